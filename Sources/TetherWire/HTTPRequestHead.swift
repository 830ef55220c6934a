/// A parsed request head, as the server writes on a v1 dial-back connection
/// (`GET /ssh/<id> HTTP/1.1\r\nHost: \r\nUser-Agent: Go-http-client/1.1\r\n\r\n`, PROTOCOL.md 6).
/// An empty `Host:` is accepted.
public struct HTTPRequestHead: Equatable {
    public var method: String
    public var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    public var headers: HTTPHeaders

    public init(method: String, target: String, minorVersion: Int = 1, headers: HTTPHeaders = HTTPHeaders()) {
        self.method = method
        self.target = target
        self.minorVersion = minorVersion
        self.headers = headers
    }

    /// Parses the head at the front of `buffer`. Returns nil while the blank line has not
    /// arrived; otherwise the head and how many bytes it used. Bytes after that belong to the
    /// next layer (SSH) and are left alone.
    public static func parse(_ buffer: ByteBuffer, limits: HTTPLimits = HTTPLimits()) throws(HTTPError)
        -> (head: HTTPRequestHead, consumed: Int)?
    {
        guard let end = try HTTPSyntax.headEnd(buffer, from: 0, limits: limits) else { return nil }
        let head = buffer.readable.prefix(end)
        let lines = try HTTPSyntax.headLines(head, limits: limits)
        guard let start = lines.first else { throw .invalidRequestLine }
        let parts = start.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, HTTPSyntax.isToken(parts[0]), !parts[1].isEmpty,
            parts[1].allSatisfy({ $0 > 0x20 && $0 != 0x7F })
        else { throw .invalidRequestLine }
        let minor = try HTTPSyntax.version(parts[2])
        let headers = try HTTPSyntax.headers(lines.dropFirst())
        let h = HTTPRequestHead(
            method: String(decoding: parts[0], as: UTF8.self),
            target: String(decoding: parts[1], as: UTF8.self),
            minorVersion: minor, headers: headers)
        return (h, end)
    }

    /// Convenience for a contiguous byte array.
    public static func parse(_ bytes: [UInt8], limits: HTTPLimits = HTTPLimits()) throws(HTTPError)
        -> (head: HTTPRequestHead, consumed: Int)?
    {
        try parse(ByteBuffer(bytes), limits: limits)
    }
}
