import CShims
import TetherWire

/// The HTTP CONNECT proxy a Link crosses: where it is and the `user:password` for
/// `Proxy-Authorization: Basic`. Which proxy (HTTPS_PROXY/HTTP_PROXY/NO_PROXY, environment or
/// config file) is the configuration's business (TetherAgent's AgentConfig), decided once.
public struct ProxySettings: Equatable, Sendable {
    public var host: String
    public var port: UInt16
    public var credentials: String?

    public init(host: String, port: UInt16, credentials: String? = nil) {
        self.host = host
        self.port = port
        self.credentials = credentials
    }

    /// The CONNECT request head for `host:port`.
    public func connectRequest(host: String, port: UInt16) -> [UInt8] {
        let authority = (host.contains(":") ? "[" + host + "]" : host) + ":" + String(port)
        var head = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n"
        if let c = credentials {
            head += "Proxy-Authorization: Basic "
                + String(decoding: Base64.encode(Array(c.utf8)), as: UTF8.self) + "\r\n"
        }
        return Array((head + "\r\n").utf8)
    }

    /// Parses the proxy's answer head. Returns nil while the head is incomplete, else the
    /// status code and the head length (bytes after it already belong to the tunnel).
    public static func parseConnectResponse(_ bytes: UnsafeRawBufferPointer) -> (status: Int, headLength: Int)? {
        guard bytes.count >= 4 else { return nil }
        var end = -1
        for i in 0...(bytes.count - 4)
        where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            end = i + 4
            break
        }
        if end < 0 { return nil }
        // "HTTP/1.x NNN ..."
        guard end >= 12, bytes[0] == UInt8(ascii: "H"), bytes[8] == UInt8(ascii: " ") else { return (0, end) }
        var status = 0
        for i in 9..<12 {
            let d = bytes[i]
            guard d >= 48 && d <= 57 else { return (0, end) }
            status = status * 10 + Int(d - 48)
        }
        return (status, end)
    }
}
