/// Where a 307/308 answer to a WebSocket upgrade points (PROTOCOL.md 5.1: ShellHub's agent
/// follows them, `pkg/api/client/utils.go` DialContext, with the same headers). `Location` is
/// absolute (`ws`, `wss`, `http` or `https`) or an absolute path on the same server; the target
/// keeps its query (v1 dial-back paths carry one).
public struct WebSocketRedirect: Equatable {
    public var server: HTTPServerURL
    /// Origin-form request target: path and query.
    public var target: String

    public init(server: HTTPServerURL, target: String) {
        self.server = server
        self.target = target
    }

    /// Most redirects followed for one upgrade (the Go agent has no bound).
    public static let maxHops = 5

    /// Resolves `location` against the server the request went to; nil when it is not a usable
    /// URL. Fragments are dropped, as HTTP clients do.
    public static func resolve(_ location: String, from current: HTTPServerURL) -> WebSocketRedirect? {
        var text = Array(location.utf8)
        if let hash = text.firstIndex(of: UInt8(ascii: "#")) { text.removeSubrange(hash...) }
        guard !text.isEmpty, text.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { return nil }
        if text[0] == UInt8(ascii: "/") {
            // A network-path reference (`//host/...`) is not a path on this server.
            if text.count > 1 && text[1] == UInt8(ascii: "/") { return nil }
            return WebSocketRedirect(server: current, target: String(decoding: text, as: UTF8.self))
        }
        guard let colon = text.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        // ASCII case folding only (String.lowercased() would pull Unicode tables into the
        // board binary).
        let scheme = text[0..<colon]
        let web: String
        if HTTPHeaders.equalIgnoringCase(scheme, "ws".utf8) || HTTPHeaders.equalIgnoringCase(scheme, "http".utf8) {
            web = "http"
        } else if HTTPHeaders.equalIgnoringCase(scheme, "wss".utf8) || HTTPHeaders.equalIgnoringCase(scheme, "https".utf8) {
            web = "https"
        } else {
            return nil
        }
        let rest = text[(colon + 1)...]
        guard rest.starts(with: "//".utf8) else { return nil }
        let afterSlashes = rest.dropFirst(2)
        let end = afterSlashes.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? afterSlashes.endIndex
        let authority = String(decoding: afterSlashes[afterSlashes.startIndex..<end], as: UTF8.self)
        guard let server = try? HTTPServerURL.parse(web + "://" + authority) else { return nil }
        var target = String(decoding: afterSlashes[end...], as: UTF8.self)
        if target.isEmpty || target.utf8.first == UInt8(ascii: "?") { target = "/" + target }
        return WebSocketRedirect(server: server, target: target)
    }
}
