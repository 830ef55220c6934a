/// One extra request header of the opening handshake (e.g. `Authorization`).
public struct WebSocketHeader: Equatable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Why the opening handshake failed (RFC 6455 section 4.1, client requirements).
public enum WebSocketHandshakeError: Error, Equatable {
    /// The caller's key was not 16 bytes (section 4.1, item 7).
    case invalidKeyLength
    /// No blank line within `WebSocketLimits.maxHandshakeHeadSize` bytes.
    case headTooLarge
    /// The first line is not `HTTP/1.x <3 digits> ...`.
    case malformedStatusLine
    /// A header line without a colon or with a bad name.
    case malformedHeader
    /// Status other than 101. `location` is the Location header, for 307/308 redirects.
    case unexpectedStatus(code: Int, location: String?)
    /// No `Upgrade: websocket` (section 4.1, item 2 of the response checks).
    case missingUpgrade
    /// No `Connection: Upgrade` (item 3).
    case missingConnection
    /// `Sec-WebSocket-Accept` absent or not base64(SHA-1(key + GUID)) (item 4).
    case acceptMismatch
    /// The server chose an extension or subprotocol this client did not offer (items 5, 6).
    case unrequestedExtension
    case unrequestedSubprotocol

    /// One short line for a log, naming the rule.
    public var rule: String {
        switch self {
        case .invalidKeyLength: return "RFC 6455 4.1: key must be 16 bytes"
        case .headTooLarge: return "handshake: response head over limit"
        case .malformedStatusLine: return "RFC 6455 4.1: malformed status line"
        case .malformedHeader: return "RFC 6455 4.1: malformed header line"
        case .unexpectedStatus(let code, _): return "RFC 6455 4.1: status " + String(code) + ", not 101"
        case .missingUpgrade: return "RFC 6455 4.1: no 'Upgrade: websocket'"
        case .missingConnection: return "RFC 6455 4.1: no 'Connection: Upgrade'"
        case .acceptMismatch: return "RFC 6455 4.1: bad Sec-WebSocket-Accept"
        case .unrequestedExtension: return "RFC 6455 4.1: extension not requested"
        case .unrequestedSubprotocol: return "RFC 6455 4.1: subprotocol not requested"
        }
    }
}

/// The client's opening handshake (RFC 6455 section 4.1), sans-I/O: builds the request as
/// ShellHub's Go agent sends it (gorilla/websocket, PROTOCOL.md 5.1), then reads the response
/// head from bytes in any pieces and checks it. The caller supplies the 16 random key bytes.
public struct WebSocketHandshake {
    /// The GUID of section 1.3 appended to the key before hashing.
    static let acceptGUID: [UInt8] = Array("258EAFA5-E914-47DA-95CA-C5AB0DC85B11".utf8)
    static let keyLength = 16

    /// Sec-WebSocket-Key as sent: base64 of the caller's 16 bytes.
    public let key: [UInt8]
    /// The Sec-WebSocket-Accept value the server must answer.
    public let expectedAccept: [UInt8]
    /// The request to write, complete with its blank line.
    public let request: [UInt8]

    private let maxHeadSize: Int
    private var head: [UInt8] = []
    /// Where to resume searching for the blank line, so each byte is scanned once.
    private var scanFrom = 0

    /// `host` is the Host header value (with ":port" when not the scheme's default), `path`
    /// the request target (with query), `extraHeaders` e.g. Authorization.
    public init(host: String, path: String, keyBytes: [UInt8],
                extraHeaders: [WebSocketHeader] = [],
                maxHeadSize: Int = WebSocketLimits.agentDefault.maxHandshakeHeadSize)
        throws(WebSocketHandshakeError)
    {
        guard keyBytes.count == WebSocketHandshake.keyLength else { throw .invalidKeyLength }
        key = Base64.encode(keyBytes)
        expectedAccept = WebSocketHandshake.accept(forKey: key)
        self.maxHeadSize = maxHeadSize
        var r: [UInt8] = []
        func line(_ s: String) {
            r.append(contentsOf: s.utf8)
            r.append(13)
            r.append(10)
        }
        line("GET \(path.isEmpty ? "/" : path) HTTP/1.1")
        line("Host: " + String(host))
        line("User-Agent: Go-http-client/1.1")
        line("Connection: Upgrade")
        r.append(contentsOf: "Sec-WebSocket-Key: ".utf8)
        r.append(contentsOf: key)
        r.append(13)
        r.append(10)
        line("Sec-WebSocket-Version: 13")
        line("Upgrade: websocket")
        for h in extraHeaders { line(String(h.name) + ": " + String(h.value)) }
        r.append(13)
        r.append(10)
        request = r
    }

    /// base64(SHA-1(key + GUID)) for a base64 key as sent (section 4.2.2, item 5.4).
    public static func accept(forKey key: [UInt8]) -> [UInt8] {
        Base64.encode(SHA1.hash(key + acceptGUID))
    }

    /// Reads more response bytes. Returns nil while the head is incomplete; when it is complete
    /// and valid, returns the bytes that followed the blank line (the first frames, which belong
    /// to the frame decoder).
    public mutating func receive<C: Collection>(_ bytes: C) throws(WebSocketHandshakeError)
        -> [UInt8]? where C.Element == UInt8
    {
        head.append(contentsOf: bytes)
        var i = max(scanFrom, 3)
        while i < head.count {
            if head[i] == 10 && head[i - 1] == 13 && head[i - 2] == 10 && head[i - 3] == 13 {
                if i + 1 > maxHeadSize { throw .headTooLarge }
                let leftover = Array(head[(i + 1)...])
                try validate(Array(head[0..<(i - 3)]))
                head = []
                return leftover
            }
            i += 1
        }
        scanFrom = head.count
        if head.count > maxHeadSize { throw .headTooLarge }
        return nil
    }

    /// Checks a response head (without its final CRLF CRLF).
    private func validate(_ bytes: [UInt8]) throws(WebSocketHandshakeError) {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var j = 0
        while j < bytes.count {
            if bytes[j] == 13 && j + 1 < bytes.count && bytes[j + 1] == 10 {
                lines.append(bytes[start..<j])
                start = j + 2
                j += 2
            } else {
                j += 1
            }
        }
        lines.append(bytes[start..<bytes.count])
        let status = try WebSocketHandshake.statusCode(lines[0])
        var upgradeOK = false
        var connectionOK = false
        var acceptValue: [UInt8]? = nil
        var acceptCount = 0
        var location: String? = nil
        var hasExtension = false
        var hasProtocol = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
                throw .malformedHeader
            }
            let name = line[line.startIndex..<colon]
            for c in name where c <= 32 || c >= 127 { throw .malformedHeader }
            let value = WebSocketHandshake.trim(line[(colon + 1)...])
            if WebSocketHandshake.equalsIgnoringCase(name, "upgrade") {
                upgradeOK = upgradeOK || WebSocketHandshake.tokenList(value, contains: "websocket")
            } else if WebSocketHandshake.equalsIgnoringCase(name, "connection") {
                connectionOK = connectionOK || WebSocketHandshake.tokenList(value, contains: "upgrade")
            } else if WebSocketHandshake.equalsIgnoringCase(name, "sec-websocket-accept") {
                acceptValue = Array(value)
                acceptCount += 1
            } else if WebSocketHandshake.equalsIgnoringCase(name, "location") {
                location = String(decoding: value, as: UTF8.self)
            } else if WebSocketHandshake.equalsIgnoringCase(name, "sec-websocket-extensions") {
                hasExtension = hasExtension || !value.isEmpty
            } else if WebSocketHandshake.equalsIgnoringCase(name, "sec-websocket-protocol") {
                hasProtocol = hasProtocol || !value.isEmpty
            }
        }
        if status != 101 { throw .unexpectedStatus(code: status, location: location) }
        if !upgradeOK { throw .missingUpgrade }
        if !connectionOK { throw .missingConnection }
        if acceptCount != 1 || acceptValue != expectedAccept { throw .acceptMismatch }
        if hasExtension { throw .unrequestedExtension }
        if hasProtocol { throw .unrequestedSubprotocol }
    }

    /// Status code from `HTTP/1.x NNN reason`.
    static func statusCode(_ line: ArraySlice<UInt8>) throws(WebSocketHandshakeError) -> Int {
        let l = Array(line)
        let prefix = Array("HTTP/1.".utf8)
        guard l.count >= 12, Array(l[0..<7]) == prefix,
              l[7] >= UInt8(ascii: "0") && l[7] <= UInt8(ascii: "9"),
              l[8] == UInt8(ascii: " ")
        else { throw .malformedStatusLine }
        var code = 0
        for k in 9..<12 {
            let d = l[k]
            guard d >= UInt8(ascii: "0") && d <= UInt8(ascii: "9") else { throw .malformedStatusLine }
            code = code * 10 + Int(d - UInt8(ascii: "0"))
        }
        if l.count > 12 && l[12] != UInt8(ascii: " ") { throw .malformedStatusLine }
        return code
    }

    static func trim(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var a = s.startIndex
        var b = s.endIndex
        while a < b && (s[a] == 32 || s[a] == 9) { a += 1 }
        while b > a && (s[b - 1] == 32 || s[b - 1] == 9) { b -= 1 }
        return s[a..<b]
    }

    static func lower(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c + 32 : c
    }

    static func equalsIgnoringCase(_ a: ArraySlice<UInt8>, _ b: StaticString) -> Bool {
        guard a.count == b.utf8CodeUnitCount else { return false }
        var p = b.utf8Start
        for c in a {
            if lower(c) != lower(p.pointee) { return false }
            p += 1
        }
        return true
    }

    /// True when a comma-separated header value holds `token` (case-insensitive).
    static func tokenList(_ value: ArraySlice<UInt8>, contains token: StaticString) -> Bool {
        var start = value.startIndex
        while start <= value.endIndex {
            let end = value[start...].firstIndex(of: UInt8(ascii: ",")) ?? value.endIndex
            if equalsIgnoringCase(trim(value[start..<end]), token) { return true }
            if end == value.endIndex { break }
            start = end + 1
        }
        return false
    }
}
