/// One v1 control message (PROTOCOL.md 5.3): `{"command":...,"connPath":...,"err":...}` with
/// empty members omitted, one per line.
public enum RevdialControlMessage: Equatable {
    case keepAlive
    case connReady(connPath: String)
    case pickupFailed(connPath: String, error: String)

    /// The line as Go writes it, `\n` included (`{"command":"keep-alive"}\n` is 25 bytes).
    public func encode() -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        switch self {
        case .keepAlive:
            w.field("command", "keep-alive")
        case .connReady(let path):
            w.field("command", "conn-ready")
            w.fieldOmitEmpty("connPath", path)
        case .pickupFailed(let path, let err):
            w.field("command", "pickup-failed")
            w.fieldOmitEmpty("connPath", path)
            w.fieldOmitEmpty("err", err)
        }
        w.endObject()
        return w.bytes + [0x0A]
    }
}

/// Why the control stream is unusable; the caller drops the control connection.
public enum RevdialError: Error, Equatable {
    /// A line longer than the reader's limit without a newline.
    case lineTooLong(limit: Int)
    /// A line that is not a JSON object with string members.
    case invalidMessage(ShellHubAPIError)
}

/// Reads control messages from the control connection's byte stream. Message boundaries of the
/// WebSocket carry no meaning: a line may span messages and a message may hold several lines.
/// Unknown commands, and `conn-ready` without a path, are skipped (Go ignores them too); blank
/// lines are skipped.
public struct RevdialControlReader {
    /// The server's lines are under 200 bytes; anything near this is not ShellHub.
    public static let defaultMaxLineBytes = 4096

    let maxLineBytes: Int
    var input = ByteBuffer()
    var failure: RevdialError? = nil

    public init(maxLineBytes: Int = RevdialControlReader.defaultMaxLineBytes) {
        self.maxLineBytes = maxLineBytes
    }

    public mutating func feed<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        input.append(bytes)
    }

    /// The next known message, or nil when more bytes are needed. Errors are final.
    public mutating func next() throws(RevdialError) -> RevdialControlMessage? {
        if let f = failure { throw f }
        while true {
            guard let nl = input.firstIndex(of: 0x0A, limit: maxLineBytes) else {
                if input.count >= maxLineBytes {
                    failure = .lineTooLong(limit: maxLineBytes)
                    throw .lineTooLong(limit: maxLineBytes)
                }
                return nil
            }
            let line = input.read(nl + 1)
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }) { continue }
            let msg: RevdialControlMessage?
            do {
                msg = try RevdialControlReader.decode(line)
            } catch {
                failure = .invalidMessage(error)
                throw .invalidMessage(error)
            }
            if let m = msg { return m }
        }
    }

    static func decode(_ line: [UInt8]) throws(ShellHubAPIError) -> RevdialControlMessage? {
        let v = try ShellHubAPIFields.object(line)
        let command = try ShellHubAPIFields.optionalString(v, "command") ?? ""
        let path = try ShellHubAPIFields.optionalString(v, "connPath") ?? ""
        let err = try ShellHubAPIFields.optionalString(v, "err") ?? ""
        let c = command.utf8
        if c.elementsEqual("keep-alive".utf8) { return .keepAlive }
        if c.elementsEqual("conn-ready".utf8) { return path.utf8.isEmpty ? nil : .connReady(connPath: path) }
        if c.elementsEqual("pickup-failed".utf8) { return .pickupFailed(connPath: path, error: err) }
        return nil
    }
}

/// What the server asks for on a v1 dial-back connection (PROTOCOL.md 6), from its request head.
public enum RevdialDialBackRequest: Equatable {
    /// `GET /ssh/<session uid>`: the rest of the connection is SSH; write no HTTP response.
    case sshOpen(sessionID: String)
    /// `GET /ssh/close/<session uid>`: close that session; Go answers `HTTP/1.1 200`.
    case sshClose(sessionID: String)
    /// `CONNECT /http/proxy/<host>:<port>`: dial host:port, answer 200 (or 500), then relay.
    case proxy(host: String, port: UInt16)

    /// Classifies a request head; nil for anything else (unknown paths, stray `DELETE`s).
    public init?(_ head: HTTPRequestHead) {
        let path = Array(HTTPRequestTarget(head.target).path.utf8)
        let m = head.method.utf8
        func after(_ prefix: String) -> ArraySlice<UInt8>? {
            let p = Array(prefix.utf8)
            guard path.count > p.count, path[..<p.count].elementsEqual(p) else { return nil }
            return path[p.count...]
        }
        if m.elementsEqual("GET".utf8) {
            if let id = after("/ssh/close/") {
                guard !id.contains(UInt8(ascii: "/")) else { return nil }
                self = .sshClose(sessionID: String(decoding: id, as: UTF8.self))
                return
            }
            if let id = after("/ssh/"), !id.contains(UInt8(ascii: "/")) {
                self = .sshOpen(sessionID: String(decoding: id, as: UTF8.self))
                return
            }
            return nil
        }
        if m.elementsEqual("CONNECT".utf8), let hp = after("/http/proxy/"),
            let colon = hp.lastIndex(of: UInt8(ascii: ":"))
        {
            var host = hp[hp.startIndex..<colon]
            if host.first == UInt8(ascii: "["), host.last == UInt8(ascii: "]") {
                host = host.dropFirst().dropLast()
            }
            guard !host.isEmpty, let n = HTTPSyntax.decimal(hp[(colon + 1)...]), n >= 1, n <= 65535 else {
                return nil
            }
            self = .proxy(host: String(decoding: host, as: UTF8.self), port: UInt16(n))
            return
        }
        return nil
    }
}
