/// `SHELLHUB_SERVER_ADDRESS` taken apart: an absolute `http` or `https` URL whose path, if
/// any, is a prefix every API and tunnel path is joined onto (PROTOCOL.md 1 and 5.1).
public struct ServerAddress: Equatable, Sendable {
    public enum Scheme: Equatable, Sendable {
        case http, https
    }

    public var scheme: Scheme
    /// Host for DNS and SNI: a name or an address, IPv6 without brackets.
    public var host: String
    /// TCP port: the explicit one, else 80 or 443.
    public var port: UInt16
    /// The authority as written (`name[:port]`, `[v6][:port]`), for the `Host` header.
    public var authority: String
    /// The path prefix without a trailing slash; "" when the URL has none.
    public var pathPrefix: String

    /// `https` means TLS for the API and `wss` for the tunnels.
    public var usesTLS: Bool { scheme == .https }

    /// The request target for `path` (which starts with "/") under the prefix.
    public func target(_ path: String) -> String { pathPrefix + path }

    /// Why a URL is refused; the reason goes into `ConfigError.invalid`.
    public static func parse(_ text: String) -> Result<ServerAddress, ParseFailure> {
        let bytes = Array(text.utf8)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else {
            return .failure(.notAbsolute)
        }
        let schemeText = String(decoding: bytes[..<colon].map { $0 | 0x20 }, as: UTF8.self)
        let scheme: Scheme
        switch schemeText {
        case "http": scheme = .http
        case "https": scheme = .https
        default:
            return .failure(colon == 0 ? .notAbsolute : .badScheme)
        }
        let afterScheme = bytes[(colon + 1)...]
        guard afterScheme.starts(with: Array("//".utf8)) else { return .failure(.notAbsolute) }
        let rest = bytes[(colon + 3)...]
        if rest.contains(UInt8(ascii: "?")) || rest.contains(UInt8(ascii: "#")) {
            return .failure(.queryOrFragment)
        }
        let authorityEnd = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
        let authorityBytes = Array(rest[rest.startIndex..<authorityEnd])
        var path = Array(rest[authorityEnd...])
        if authorityBytes.contains(UInt8(ascii: "@")) { return .failure(.userInfo) }
        guard !authorityBytes.isEmpty else { return .failure(.noHost) }

        var host: [UInt8]
        var portBytes: ArraySlice<UInt8>? = nil
        if authorityBytes[0] == UInt8(ascii: "[") {
            guard let close = authorityBytes.firstIndex(of: UInt8(ascii: "]")) else {
                return .failure(.badHost)
            }
            host = Array(authorityBytes[1..<close])
            let after = authorityBytes[(close + 1)...]
            if !after.isEmpty {
                guard after.first == UInt8(ascii: ":") else { return .failure(.badHost) }
                portBytes = after.dropFirst()
            }
            guard !host.isEmpty, host.allSatisfy(isIPv6Byte) else { return .failure(.badHost) }
        } else {
            if let c = authorityBytes.firstIndex(of: UInt8(ascii: ":")) {
                host = Array(authorityBytes[..<c])
                portBytes = authorityBytes[(c + 1)...]
            } else {
                host = authorityBytes
            }
            guard !host.isEmpty else { return .failure(.noHost) }
            guard host.allSatisfy(isHostByte) else { return .failure(.badHost) }
            host = host.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
        }
        var port: UInt16 = scheme == .https ? 443 : 80
        if let p = portBytes {
            guard !p.isEmpty, p.count <= 5, p.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                return .failure(.badPort)
            }
            var v = 0
            for d in p { v = v * 10 + Int(d - 0x30) }
            guard v >= 1, v <= 65535 else { return .failure(.badPort) }
            port = UInt16(v)
        }
        while path.last == UInt8(ascii: "/") { path.removeLast() }
        guard path.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { return .failure(.badPath) }
        return .success(
            ServerAddress(
                scheme: scheme, host: String(decoding: host, as: UTF8.self), port: port,
                authority: String(decoding: authorityBytes, as: UTF8.self),
                pathPrefix: String(decoding: path, as: UTF8.self)))
    }

    public enum ParseFailure: Error, Equatable, Sendable {
        case notAbsolute, badScheme, queryOrFragment, userInfo, noHost, badHost, badPort, badPath

        public var reason: String {
            switch self {
            case .notAbsolute: return "must be an absolute URL like https://host"
            case .badScheme: return "scheme must be http or https"
            case .queryOrFragment: return "no query or fragment allowed"
            case .userInfo: return "no user@ part allowed"
            case .noHost: return "no host"
            case .badHost: return "bad host"
            case .badPort: return "port must be 1..65535"
            case .badPath: return "path has spaces or control bytes"
            }
        }
    }

    private static func isHostByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            || c == UInt8(ascii: ".") || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
    }

    private static func isIPv6Byte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66)
            || c == UInt8(ascii: ":") || c == UInt8(ascii: ".")
    }
}
