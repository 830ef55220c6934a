import TetherPlatform

/// A tunnel to the server (v2: one yamux WebSocket; v1: a control WebSocket plus dial-backs).
protocol Tunnel: AnyObject {
    /// Closes the tunnel and everything riding on it; no owner call follows.
    func close()
}

/// What a tunnel reports to the runtime.
protocol TunnelOwner: AnyObject {
    /// The upgrade succeeded: the device is online.
    func tunnelUp(_ tunnel: Tunnel)
    /// The tunnel is gone; `wasUp` tells a failed dial from a lost tunnel.
    func tunnelDown(_ tunnel: Tunnel, _ end: TunnelEnd, wasUp: Bool)
}

/// Why a tunnel ended: its WebSocket did, or the transport above it gave up on the server.
enum TunnelEnd: Equatable {
    case link(LinkEnd)
    /// v2: the yamux stream broke its protocol.
    case yamuxError
    /// v2: no server ping for this many seconds (its interval plus the grace).
    case noServerPing(seconds: Int64)
    /// v1: the control connection's keep-alive did not come.
    case noKeepalive
    /// v1: the control connection carried what is not a revdial line.
    case garbageOnControl
    /// A deadline of the transport could not be armed.
    case timerTableFull

    var text: String {
        switch self {
        case .link(let end): return end.text
        case .yamuxError: return "yamux protocol error"
        case .noServerPing(let s): return "no ping from server for " + String(s) + " s"
        case .noKeepalive: return "no keep-alive from server"
        case .garbageOnControl: return "garbage on the control connection"
        case .timerTableFull: return "timer table full"
        }
    }
}
