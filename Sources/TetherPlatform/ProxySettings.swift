import CShims
import TetherWire

/// An HTTP CONNECT proxy from HTTPS_PROXY / https_proxy, with NO_PROXY exclusions, as Go's
/// net/http (ProxyFromEnvironment) reads them: "http://[user:pass@]host[:port]" (scheme
/// optional, port 80 by default for http://, 443 for https:// which we do not support and
/// refuse); NO_PROXY is a comma list of host names, domain suffixes (".example.com" or
/// "example.com" both match sub-domains), IP literals, or "*".
public struct ProxySettings: Equatable, Sendable {
    public var host: String
    public var port: UInt16
    /// "user:password" for Proxy-Authorization: Basic, when the URL carries credentials.
    public var credentials: String?
    public var noProxy: [String]

    public init(host: String, port: UInt16, credentials: String? = nil, noProxy: [String] = []) {
        self.host = host
        self.port = port
        self.credentials = credentials
        self.noProxy = noProxy
    }

    /// Parses a proxy URL; nil when malformed or not http.
    public static func parse(_ url: String, noProxy: String? = nil) -> ProxySettings? {
        var rest = Substring(url)
        if rest.hasPrefix("http://") {
            rest = rest.dropFirst(7)
        } else if rest.firstIndex(of: "/") != nil && rest.firstIndex(of: ":") != nil
                    && rest.split(separator: "/", maxSplits: 1)[0].hasSuffix(":") {
            return nil  // another scheme ("https://", "socks5://")
        }
        if let slash = rest.firstIndex(of: "/") { rest = rest[rest.startIndex..<slash] }
        var credentials: String? = nil
        if let at = rest.lastIndex(of: "@") {
            credentials = String(rest[rest.startIndex..<at])
            rest = rest[rest.index(after: at)...]
        }
        var host = String(rest)
        var port: UInt16 = 80
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = UInt16(after.dropFirst()) else { return nil }
                port = p
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[rest.startIndex..<colon])
            guard let p = UInt16(rest[rest.index(after: colon)...]) else { return nil }
            port = p
        }
        if host.isEmpty { return nil }
        var list: [String] = []
        if let np = noProxy {
            for item in np.split(separator: ",") {
                let t = item.filter { $0 != " " }
                if !t.isEmpty { list.append(lower(String(t))) }
            }
        }
        return ProxySettings(host: host, port: port, credentials: credentials, noProxy: list)
    }

    /// From the environment (HTTPS_PROXY, then https_proxy; NO_PROXY, then no_proxy).
    public static func fromEnvironment() -> ProxySettings? {
        guard let url = TLSSettings.environment("HTTPS_PROXY") ?? TLSSettings.environment("https_proxy") else {
            return nil
        }
        return parse(url, noProxy: TLSSettings.environment("NO_PROXY") ?? TLSSettings.environment("no_proxy"))
    }

    /// Whether connections to `target` must bypass the proxy.
    public func bypasses(_ target: String) -> Bool {
        let t = ProxySettings.lower(target)
        for entry in noProxy {
            if entry == "*" { return true }
            var e = entry
            // Drop a ":port" suffix (not for bare IPv6 literals).
            if let colon = e.lastIndex(of: ":"), !e.contains("]"), e.firstIndex(of: ":") == colon {
                e = String(e[e.startIndex..<colon])
            }
            if e.hasPrefix(".") { e = String(e.dropFirst()) }
            if t == e || t.hasSuffix("." + e) { return true }
        }
        return false
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

    static func lower(_ s: String) -> String {
        String(decoding: s.utf8.map { ($0 >= 65 && $0 <= 90) ? $0 + 32 : $0 }, as: UTF8.self)
    }
}
