import CShims

/// An IPv4 or IPv6 address with a TCP port, stored inline (no sockaddr juggling for callers).
public struct SocketAddress: Equatable, Sendable {
    public enum Family: Equatable, Sendable { case ipv4, ipv6 }

    public let family: Family
    /// Network-order address bytes: 4 for IPv4, 16 for IPv6.
    public let bytes: [UInt8]
    public let port: UInt16

    public init(family: Family, bytes: [UInt8], port: UInt16) {
        self.family = family
        self.bytes = bytes
        self.port = port
    }

    /// Parses an IPv4 dotted quad or an IPv6 literal (brackets allowed); nil for names.
    public init?(numericHost host: String, port: UInt16) {
        var h = host
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        var buf = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, h, &buf) == 1 {
            self.init(family: .ipv4, bytes: Array(buf[0..<4]), port: port)
        } else if inet_pton(AF_INET6, h, &buf) == 1 {
            self.init(family: .ipv6, bytes: buf, port: port)
        } else {
            return nil
        }
    }

    /// Whether `host` is an address literal (so it needs no resolution and gets no SNI).
    public static func isNumericHost(_ host: String) -> Bool {
        SocketAddress(numericHost: host, port: 0) != nil
    }

    /// "192.0.2.1" or "2001:db8::1".
    public var hostText: String {
        var out = [CChar](repeating: 0, count: 64)
        let af = family == .ipv4 ? AF_INET : AF_INET6
        _ = inet_ntop(af, bytes, &out, 64)
        return String(decodingCString: out)
    }

    /// "192.0.2.1:443" or "[2001:db8::1]:443".
    public var text: String {
        family == .ipv4 ? hostText + ":" + String(port) : "[" + hostText + "]:" + String(port)
    }

    var addressFamily: Int32 { family == .ipv4 ? AF_INET : AF_INET6 }

    /// Calls `body` with a sockaddr for connect(2)/bind(2).
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch family {
        case .ipv4:
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = port.bigEndian
            copyAddress(into: &sa.sin_addr, count: 4)
            return SocketAddress.pass(&sa, to: body)
        case .ipv6:
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = port.bigEndian
            copyAddress(into: &sa.sin6_addr, count: 16)
            return SocketAddress.pass(&sa, to: body)
        }
    }

    private func copyAddress<A>(into field: inout A, count: Int) {
        withUnsafeMutableBytes(of: &field) { raw in
            for i in 0..<count { raw[i] = bytes[i] }
        }
    }

    /// `sa` (a sockaddr_in or sockaddr_in6) as the generic sockaddr the calls take.
    private static func pass<S, R>(_ sa: inout S, to body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<S>.size)) }
        }
    }
}
