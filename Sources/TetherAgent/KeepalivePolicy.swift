/// The one keepalive policy every connection follows ("Keepalive: quiet by design" in
/// ARCHITECTURE.md): any frame sent or received is liveness; the agent pings only a connection
/// silent in both directions for nearly the middlebox idle timeout; the server's own pings are
/// the dead-peer detector.
public struct KeepalivePolicy: Equatable, Sendable {
    /// Idle timeout of the tightest middlebox on the path.
    public var middleboxIdle: Millis
    /// A ping goes out this long before the middlebox would give up.
    public var margin: Millis
    /// Upper bound of the per-agent random phase subtracted from the ping threshold, so a
    /// fleet with the same traffic pattern does not ping in step.
    public var maxPhaseJitter: Millis
    /// How long past the expected server ping (or past an agent ping) silence means a dead peer.
    public var deadPeerGrace: Millis
    /// The server's keepalive periods (PROTOCOL.md 5.2, 5.3, 8.1).
    public var v2ServerPing: Millis
    /// v1 control: keep-alive and WebSocket ping every 30 s; the Go agent allows 35 s.
    public var v1ServerPing: Millis

    public init(
        middleboxIdle: Millis, margin: Millis? = nil, maxPhaseJitter: Millis? = nil,
        deadPeerGrace: Millis = .seconds(15), v2ServerPing: Millis = .seconds(35),
        v1ServerPing: Millis = .seconds(35)
    ) {
        self.middleboxIdle = middleboxIdle
        // A sixth of the idle timeout (10 s of 60 s), at least 3 s: room for a late wake-up
        // and one round trip before the middlebox's clock runs out.
        let m = margin ?? max(.seconds(3), middleboxIdle / 6)
        self.margin = m
        self.maxPhaseJitter = maxPhaseJitter ?? m / 2
        self.deadPeerGrace = deadPeerGrace
        self.v2ServerPing = v2ServerPing
        self.v1ServerPing = v1ServerPing
    }

    /// From `TETHER_MIDDLEBOX_IDLE`.
    public init(config: AgentConfig) {
        self.init(middleboxIdle: .seconds(Int64(config.middleboxIdleSeconds)))
    }

    /// Silence (both directions) after which a connection must be pinged, for an agent whose
    /// random phase is `phase` (0...maxPhaseJitter).
    public func pingThreshold(phase: Millis) -> Millis { middleboxIdle - margin - phase }

    /// Whether the agent ever pings a connection of `role`: only when the server does not
    /// already send something more often than the ping threshold.
    public func agentPings(_ role: ConnectionRole, phase: Millis) -> Bool {
        guard let server = serverPing(role) else { return true }
        return server >= pingThreshold(phase: phase)
    }

    /// The server's ping period on a connection of `role`; nil = the server sends nothing.
    public func serverPing(_ role: ConnectionRole) -> Millis? {
        switch role {
        case .v2Tunnel: return v2ServerPing
        case .v1Control: return v1ServerPing
        case .v1DialBack: return nil
        }
    }
}

/// What a connection is, which decides who keeps it warm.
public enum ConnectionRole: Equatable, Sendable {
    /// The v2 WebSocket: the server pings it every 35 s.
    case v2Tunnel
    /// The v1 control WebSocket: the server sends keep-alives and pings every 30 s.
    case v1Control
    /// A v1 per-session dial-back WebSocket: the server leaves it silent.
    case v1DialBack
}
