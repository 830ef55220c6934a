/// The ShellHub server address (`SHELLHUB_SERVER_ADDRESS`, PROTOCOL.md 1): `http` or `https`,
/// a host (name, IPv4, or IPv6 literal in brackets), an optional port and an optional path
/// prefix that every request path is joined onto. User info, queries and fragments are refused.
public struct HTTPServerURL: Equatable {
    public var isTLS: Bool
    /// Host without brackets (`::1`, not `[::1]`).
    public var host: String
    public var port: UInt16
    /// Path prefix without trailing slash: "" or e.g. "/shellhub".
    public var pathPrefix: String

    public init(isTLS: Bool, host: String, port: UInt16, pathPrefix: String = "") {
        self.isTLS = isTLS
        self.host = host
        self.port = port
        self.pathPrefix = pathPrefix
    }

    public var defaultPort: UInt16 { isTLS ? 443 : 80 }

    /// Whether the host is an IPv6 literal.
    public var isIPv6: Bool { host.utf8.contains(UInt8(ascii: ":")) }

    /// `Host` header value: brackets around IPv6 literals, port only when not the default.
    public var hostHeader: String {
        var s = isIPv6 ? "[" + host + "]" : host
        if port != defaultPort { s += ":" + JSONNumber.decimal(Int64(port)) }
        return s
    }

    /// `prefix + path`; `path` should start with `/` (one is added if missing). Query text in
    /// `path` is kept verbatim (the v1 `connPath` is copied as the server wrote it).
    /// The URL as people read it: `https://hub.example.com:8443/prefix`.
    public var text: String { (isTLS ? "https://" : "http://") + hostHeader + pathPrefix }

    public func join(_ path: String) -> String {
        if path.utf8.first == UInt8(ascii: "/") { return pathPrefix + path }
        return pathPrefix + "/" + path
    }

    public static func parse(_ text: String) throws(HTTPError) -> HTTPServerURL {
        let s = Array(text.utf8)
        guard let colon = s.firstIndex(of: UInt8(ascii: ":")),
            s.count >= colon + 3, s[colon + 1] == UInt8(ascii: "/"), s[colon + 2] == UInt8(ascii: "/")
        else { throw .invalidURL("not an absolute URL") }
        let scheme = s[0..<colon]
        let tls: Bool
        if HTTPHeaders.equalIgnoringCase(scheme, "https".utf8) {
            tls = true
        } else if HTTPHeaders.equalIgnoringCase(scheme, "http".utf8) {
            tls = false
        } else {
            throw .invalidURL("scheme must be http or https")
        }
        let rest = s[(colon + 3)...]
        if rest.contains(UInt8(ascii: "?")) || rest.contains(UInt8(ascii: "#")) {
            throw .invalidURL("query or fragment")
        }
        let slash = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
        let authority = rest[rest.startIndex..<slash]
        var path = rest[slash...]
        if authority.contains(UInt8(ascii: "@")) { throw .invalidURL("user info") }
        var host: ArraySlice<UInt8>
        var portText: ArraySlice<UInt8>? = nil
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else {
                throw .invalidURL("unclosed IPv6 literal")
            }
            host = authority[(authority.startIndex + 1)..<close]
            let after = authority[(close + 1)...]
            if let f = after.first {
                guard f == UInt8(ascii: ":") else { throw .invalidURL("bad host") }
                portText = after.dropFirst()
            }
            guard !host.isEmpty, host.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { throw .invalidURL("bad IPv6 literal") }
        } else {
            if let c = authority.firstIndex(of: UInt8(ascii: ":")) {
                host = authority[authority.startIndex..<c]
                portText = authority[(c + 1)...]
            } else {
                host = authority
            }
            guard !host.isEmpty, host.allSatisfy(isHostChar) else { throw .invalidURL("bad host") }
        }
        var port = tls ? UInt16(443) : UInt16(80)
        if let p = portText, !p.isEmpty {
            guard let n = HTTPSyntax.decimal(p), n >= 1, n <= 65535 else { throw .invalidURL("bad port") }
            port = UInt16(n)
        }
        while path.last == UInt8(ascii: "/") { path = path.dropLast() }
        guard path.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { throw .invalidURL("bad path") }
        return HTTPServerURL(
            isTLS: tls, host: String(decoding: host, as: UTF8.self), port: port,
            pathPrefix: String(decoding: path, as: UTF8.self))
    }

    static func isHexDigit(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f"))
            || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "F"))
    }

    static func isHostChar(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-")
            || b == UInt8(ascii: ".") || b == UInt8(ascii: "_")
    }
}

/// An origin-form request target split into path and query, e.g. the v1 `connPath`
/// `/ssh/revdial?revdial.dialer=9f…e1&uuid=0c1e…`.
public struct HTTPRequestTarget: Equatable {
    public var path: String
    /// Query text without the `?` ("" when none).
    public var query: String

    public init(_ target: String) {
        let bytes = Array(target.utf8)
        if let q = bytes.firstIndex(of: UInt8(ascii: "?")) {
            path = String(decoding: bytes[..<q], as: UTF8.self)
            query = String(decoding: bytes[(q + 1)...], as: UTF8.self)
        } else {
            path = target
            query = ""
        }
    }

    /// First value of query parameter `name`, percent- and `+`-decoded; nil when absent or
    /// badly escaped.
    public func queryValue(_ name: String) -> String? {
        for pair in query.utf8.split(separator: UInt8(ascii: "&")) {
            let eq = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
            guard let key = HTTPRequestTarget.unescape(pair[pair.startIndex..<eq]),
                key.elementsEqual(name.utf8)
            else { continue }
            let raw = eq == pair.endIndex ? pair[eq...] : pair[pair.index(after: eq)...]
            guard let v = HTTPRequestTarget.unescape(raw) else { return nil }
            return String(decoding: v, as: UTF8.self)
        }
        return nil
    }

    /// Percent-encodes `value` for a query component: unreserved characters (RFC 3986 2.3)
    /// stay, everything else becomes `%XX`, as Go's `url.QueryEscape` does (except that Go
    /// writes a space as `+`; `%20` is read the same way by every server).
    public static func escapeQueryValue(_ value: String) -> String {
        let hex: StaticString = "0123456789ABCDEF"
        var out: [UInt8] = []
        for b in value.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(b)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex.utf8Start[Int(b >> 4)])
                out.append(hex.utf8Start[Int(b & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func unescape<C: Collection>(_ s: C) -> [UInt8]? where C.Element == UInt8 {
        var out: [UInt8] = []
        var it = s.makeIterator()
        while let c = it.next() {
            switch c {
            case UInt8(ascii: "+"): out.append(0x20)
            case UInt8(ascii: "%"):
                guard let h = it.next(), let l = it.next(), let hv = hexValue(h), let lv = hexValue(l) else {
                    return nil
                }
                out.append(hv << 4 | lv)
            default: out.append(c)
            }
        }
        return out
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
