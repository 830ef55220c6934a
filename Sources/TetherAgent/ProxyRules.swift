import TetherWire

/// `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` as Go's `ProxyFromEnvironment` reads them, reduced
/// to what Tether supports: a plain HTTP CONNECT proxy without credentials.
enum ProxyRules {
    /// The proxy for the server's scheme (`HTTPS_PROXY` or `HTTP_PROXY`, upper case first),
    /// unless `NO_PROXY` covers the host: its URL and credentials, or nils for a direct connect.
    static func proxy(
        for server: HTTPServerURL, in src: ConfigSources
    ) throws(ConfigError) -> (url: HTTPServerURL?, credentials: String?) {
        let proxyVar = server.isTLS
            ? (src.exact("HTTPS_PROXY") ?? src.exact("https_proxy"))
            : (src.exact("HTTP_PROXY") ?? src.exact("http_proxy"))
        guard let p = proxyVar else { return (nil, nil) }
        let noProxy = src.exact("NO_PROXY") ?? src.exact("no_proxy")
        if ProxyRules.bypasses(host: server.host, noProxy: noProxy?.value ?? "") { return (nil, nil) }
        let (url, credentials) = try parse(p)
        return (url, credentials)
    }

    /// A proxy URL; a bare `host:port` means `http://host:port`, as in Go; `user:password@`
    /// before the host is kept for `Proxy-Authorization: Basic` (and never shown in a message).
    static func parse(_ v: ConfigValue) throws(ConfigError) -> (url: HTTPServerURL, credentials: String?) {
        var text = ConfigText.find("://", in: v.value) != nil ? v.value : "http://" + v.value
        guard ConfigText.lowercased(text).hasPrefix("http://") else {
            throw .invalid(variable: v.name, value: v.value, reason: "only http:// proxies are supported")
        }
        var credentials: String?
        var shown = v.value
        let rest = text.dropFirst(7)
        let authority = rest.prefix { $0 != "/" }
        if let at = authority.lastIndex(of: "@") {
            credentials = String(authority[..<at])
            text = "http://" + String(rest[rest.index(after: at)...])
            shown = text
        }
        return (try url(ConfigValue(name: v.name, value: text), shown: shown), credentials)
    }

    /// An `http(s)://host[:port][/prefix]` URL; a refusal names the variable.
    static func url(_ v: ConfigValue, shown: String? = nil) throws(ConfigError) -> HTTPServerURL {
        do {
            return try HTTPServerURL.parse(v.value)
        } catch {
            var reason = "not a usable URL"
            if case .invalidURL(let why) = error { reason = why }
            throw .invalid(variable: v.name, value: shown ?? v.value, reason: reason)
        }
    }

    /// Whether `NO_PROXY` exempts `host`: `*`; an exact name or address; a domain suffix
    /// (`example.com` and `.example.com` both cover `a.example.com`). Ports are ignored.
    static func bypasses(host: String, noProxy: String) -> Bool {
        let host = ConfigText.lowercased(host)
        for rawEntry in noProxy.split(separator: ",") {
            var entry = ConfigText.lowercased(String(rawEntry.filter { $0 != " " }))
            if entry.isEmpty { continue }
            if entry == "*" { return true }
            // Drop a port, but not the colons of a bare IPv6 address.
            if entry.hasPrefix("[") {
                if let close = entry.firstIndex(of: "]") {
                    entry = String(entry[entry.index(after: entry.startIndex)..<close])
                }
            } else if entry.filter({ $0 == ":" }).count == 1, let colon = entry.firstIndex(of: ":") {
                entry = String(entry[..<colon])
            }
            if entry.hasPrefix(".") { entry.removeFirst() }
            if host == entry || host.hasSuffix("." + entry) { return true }
        }
        return false
    }
}
