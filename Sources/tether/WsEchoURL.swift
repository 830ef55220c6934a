// Host builds only: board builds leave this conformance tool out (TETHER_BOARD_BUILD, cross/build.sh);
// the WebSocket client it exercises is in every build.
#if !TETHER_BOARD_BUILD
/// A `ws://` or `wss://` URL as `tether ws-echo` takes it: scheme, host, port and the request
/// target. IPv6 literals are written in brackets (`ws://[::1]:9001/`).
struct WsEchoURL: Equatable {
    var secure: Bool
    var host: String
    var port: UInt16
    /// Path and query, at least "/".
    var target: String

    /// The Host header value: the port is left out when it is the scheme's default.
    var hostHeader: String {
        let h = host.utf8.contains(UInt8(ascii: ":")) ? "[" + String(host) + "]" : host
        let defaultPort: UInt16 = secure ? 443 : 80
        return port == defaultPort ? h : String(h) + ":" + String(port)
    }

    init(secure: Bool, host: String, port: UInt16, target: String) {
        self.secure = secure
        self.host = host
        self.port = port
        self.target = target
    }

    /// Parses `ws[s]://host[:port][/path][?query]`; nil when it is not such a URL.
    init?(_ text: String) {
        let bytes = Array(text.utf8)
        let ws = Array("ws://".utf8)
        let wss = Array("wss://".utf8)
        var i: Int
        if bytes.starts(with: ws) {
            secure = false
            i = ws.count
        } else if bytes.starts(with: wss) {
            secure = true
            i = wss.count
        } else {
            return nil
        }
        var hostBytes: [UInt8] = []
        if i < bytes.count && bytes[i] == UInt8(ascii: "[") {
            guard let close = bytes[i...].firstIndex(of: UInt8(ascii: "]")) else { return nil }
            hostBytes = Array(bytes[(i + 1)..<close])
            i = close + 1
        } else {
            while i < bytes.count && bytes[i] != UInt8(ascii: ":") && bytes[i] != UInt8(ascii: "/")
                && bytes[i] != UInt8(ascii: "?") {
                hostBytes.append(bytes[i])
                i += 1
            }
        }
        if hostBytes.isEmpty { return nil }
        var portValue: UInt32 = secure ? 443 : 80
        if i < bytes.count && bytes[i] == UInt8(ascii: ":") {
            i += 1
            var digits = 0
            portValue = 0
            while i < bytes.count && bytes[i] >= UInt8(ascii: "0") && bytes[i] <= UInt8(ascii: "9") {
                portValue = portValue * 10 + UInt32(bytes[i] - UInt8(ascii: "0"))
                digits += 1
                i += 1
                if portValue > 65535 { return nil }
            }
            if digits == 0 || portValue == 0 { return nil }
        }
        if i < bytes.count && bytes[i] != UInt8(ascii: "/") && bytes[i] != UInt8(ascii: "?") {
            return nil
        }
        var rest = String(decoding: bytes[i...], as: UTF8.self)
        if rest.isEmpty { rest = "/" } else if rest.utf8.first == UInt8(ascii: "?") { rest = "/" + rest }
        host = String(decoding: hostBytes, as: UTF8.self)
        port = UInt16(portValue)
        target = rest
    }
}
#endif
