/// The JSON line the server writes on a v2 stream after multistream negotiation
/// (PROTOCOL.md 5.2 step 3, 6): `{"id":"<session uid>"}` for `/ssh/open` and `/ssh/close`,
/// `{"id":"<request id>","host":"<host>","port":"<decimal>"}` for `/http/proxy`.
public struct StreamHeader: Equatable {
    public var id: String
    public var host: String?
    public var port: String?

    public init(id: String, host: String? = nil, port: String? = nil) {
        self.id = id
        self.host = host
        self.port = port
    }

    /// Parses the line (the trailing `\n`, if included, is whitespace to the JSON reader).
    public static func parse<C: Collection>(_ line: C) throws(ShellHubAPIError) -> StreamHeader
    where C.Element == UInt8 {
        let v = try ShellHubAPIFields.object(line)
        return StreamHeader(
            id: try ShellHubAPIFields.string(v, "id"),
            host: try ShellHubAPIFields.optionalString(v, "host"),
            port: try ShellHubAPIFields.optionalString(v, "port"))
    }

    /// `port` as a TCP port number, nil when absent or not a decimal in 1...65535.
    public var portNumber: UInt16? {
        guard let p = port, !p.utf8.isEmpty, p.utf8.count <= 5 else { return nil }
        var n: UInt32 = 0
        for c in p.utf8 {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            n = n * 10 + UInt32(c - UInt8(ascii: "0"))
        }
        return n >= 1 && n <= 65535 ? UInt16(n) : nil
    }

    /// The line as Go's JSON encoder writes it, `\n` included (used by test peers).
    public func encode() -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.field("id", id)
        if let h = host { w.field("host", h) }
        if let p = port { w.field("port", p) }
        w.endObject()
        return w.bytes + [0x0A]
    }
}

/// The agent's one-line answer on a `/http/proxy/1.0.0` stream (PROTOCOL.md 6).
public enum ProxyReply: Equatable {
    case ok
    case error(String)

    /// `{"status":"ok"}\n` or `{"error":"<text>"}\n`.
    public func encode() -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        switch self {
        case .ok: w.field("status", "ok")
        case .error(let text): w.field("error", text)
        }
        w.endObject()
        return w.bytes + [0x0A]
    }
}
