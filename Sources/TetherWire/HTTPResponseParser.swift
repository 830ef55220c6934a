/// A parsed status line and headers.
public struct HTTPResponseHead: Equatable {
    public var statusCode: Int
    public var reason: String
    public var minorVersion: Int
    public var headers: HTTPHeaders

    public init(statusCode: Int, reason: String = "", minorVersion: Int = 1, headers: HTTPHeaders = HTTPHeaders()) {
        self.statusCode = statusCode
        self.reason = reason
        self.minorVersion = minorVersion
        self.headers = headers
    }
}

/// What the response parser produced.
public enum HTTPResponseEvent: Equatable {
    /// The final (non-1xx, or 101) head.
    case head(HTTPResponseHead)
    /// A piece of the decoded body (de-chunked when chunked).
    case body([UInt8])
    /// The message is complete; bytes after it are in `takeRemaining()`.
    case end
}

/// Incremental HTTP/1.1 response parser for the device API and the WebSocket upgrade answer.
/// Body length per RFC 9112 6.3: none for HEAD requests, 1xx, 204 and 304; chunked when the last
/// transfer coding is `chunked`; else `Content-Length`; else until the connection closes
/// (call `finish()` at EOF). Interim 1xx heads other than 101 are skipped. A 101 ends the
/// message right after its head: what follows belongs to the upgraded protocol.
public struct HTTPResponseParser {
    enum State: Equatable {
        case head
        case fixed(remaining: Int64)
        case chunked
        case untilClose(received: Int64)
        case done
    }

    var buffer = ByteBuffer()
    var state: State = .head
    var searchedHead = 0
    var chunked: HTTPChunkedDecoder
    let limits: HTTPLimits
    let requestWasHead: Bool

    public init(limits: HTTPLimits = HTTPLimits(), requestWasHead: Bool = false) {
        self.limits = limits
        self.requestWasHead = requestWasHead
        self.chunked = HTTPChunkedDecoder(limits: limits)
    }

    public var isComplete: Bool { state == .done }

    public mutating func feed<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        buffer.append(bytes)
    }

    /// The next event, or nil when more bytes are needed (or the message is complete).
    public mutating func next() throws(HTTPError) -> HTTPResponseEvent? {
        while true {
            switch state {
            case .done:
                return nil
            case .head:
                guard let end = try HTTPSyntax.headEnd(buffer, from: searchedHead, limits: limits) else {
                    searchedHead = buffer.count
                    return nil
                }
                let head = try HTTPResponseParser.parseHead(buffer.readable.prefix(end), limits: limits)
                buffer.consume(end)
                searchedHead = 0
                let code = head.statusCode
                if code >= 100 && code < 200 && code != 101 { continue }
                state = try bodyState(for: head)
                return .head(head)
            case .fixed(let remaining):
                if remaining == 0 {
                    state = .done
                    return .end
                }
                if buffer.isEmpty { return nil }
                let n = Int(Swift.min(remaining, Int64(buffer.count)))
                state = .fixed(remaining: remaining - Int64(n))
                return .body(buffer.read(n))
            case .chunked:
                guard let out = try chunked.next(&buffer) else { return nil }
                switch out {
                case .data(let d): return .body(d)
                case .end:
                    state = .done
                    return .end
                }
            case .untilClose(let received):
                if buffer.isEmpty { return nil }
                let total = received + Int64(buffer.count)
                if total > Int64(limits.maxBodyBytes) { throw .bodyTooLarge(limit: limits.maxBodyBytes) }
                state = .untilClose(received: total)
                return .body(buffer.readAll())
            }
        }
    }

    /// Tells the parser the connection reached EOF. Ends a close-delimited body; anything else
    /// unfinished is a truncated message.
    public mutating func finish() throws(HTTPError) -> HTTPResponseEvent? {
        switch state {
        case .done: return nil
        case .untilClose:
            if let e = try next() { return e }
            state = .done
            return .end
        default:
            throw .truncatedMessage
        }
    }

    /// Bytes received after the end of the message (e.g. WebSocket frames after a 101).
    public mutating func takeRemaining() -> [UInt8] { buffer.readAll() }

    func bodyState(for head: HTTPResponseHead) throws(HTTPError) -> State {
        let code = head.statusCode
        if requestWasHead || code == 101 || code == 204 || code == 304 { return .fixed(remaining: 0) }
        let te = head.headers.values("Transfer-Encoding")
        if !te.isEmpty {
            // The last coding decides: chunked means chunked framing; anything else is read to EOF.
            let joined = te[te.count - 1].utf8.split(separator: UInt8(ascii: ","))
            if let last = joined.last, HTTPHeaders.equalIgnoringCase(HTTPSyntax.trimmed(last), "chunked".utf8) {
                return .chunked
            }
            return .untilClose(received: 0)
        }
        let cls = head.headers.values("Content-Length")
        if cls.isEmpty { return .untilClose(received: 0) }
        var length: Int64? = nil
        for v in cls {
            for part in v.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                guard let n = HTTPSyntax.decimal(HTTPSyntax.trimmed(part)) else { throw .invalidContentLength }
                if let l = length, l != n { throw .invalidContentLength }
                length = n
            }
        }
        guard let l = length else { throw .invalidContentLength }
        if l > Int64(limits.maxBodyBytes) { throw .bodyTooLarge(limit: limits.maxBodyBytes) }
        return .fixed(remaining: l)
    }

    static func parseHead(_ head: ArraySlice<UInt8>, limits: HTTPLimits) throws(HTTPError) -> HTTPResponseHead {
        let lines = try HTTPSyntax.headLines(head, limits: limits)
        guard let start = lines.first else { throw .invalidStatusLine }
        // "HTTP/1.1 200 OK": version, space, three digits, then optional space + reason.
        guard start.count >= 12, start[start.startIndex + 8] == 0x20 else { throw .invalidStatusLine }
        let minor = try HTTPSyntax.version(start.prefix(8))
        let codeBytes = start[(start.startIndex + 9)..<(start.startIndex + 12)]
        guard let code = HTTPSyntax.decimal(codeBytes), code >= 100 else { throw .invalidStatusLine }
        var reason = start[(start.startIndex + 12)...]
        if let f = reason.first {
            guard f == 0x20 else { throw .invalidStatusLine }
            reason = reason.dropFirst()
        }
        return HTTPResponseHead(
            statusCode: Int(code), reason: String(decoding: reason, as: UTF8.self),
            minorVersion: minor, headers: try HTTPSyntax.headers(lines.dropFirst()))
    }
}
