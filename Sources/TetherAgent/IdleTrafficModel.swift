/// Estimates the idle upstream traffic (IP bytes per hour) of the agent under a keepalive
/// policy, with the byte model of PROTOCOL.md 8.2, so BENCHMARKS.md can set measurements
/// beside a prediction and beside the Go agent's figures (8.4) and the floor (8.5).
public struct IdleTrafficModel: Sendable {
    /// IPv4 + TCP with timestamps, per segment (a pure ACK is just this).
    public var tcpIPHeader: Int = 52
    /// TLS record overhead: 29 for TLS 1.2 AES-GCM (mbedTLS 2.28), 22 for TLS 1.3.
    public var tlsRecord: Int = 29
    /// Client-to-server WebSocket header for a payload of at most 125 bytes (masked).
    public var webSocketHeader: Int = 6
    /// Upstream bytes of one device auth on a fresh HTTPS connection (HTTP/1.1, X25519
    /// ClientHello, no session resumption): about 2.2 KB (PROTOCOL.md 8.5).
    public var reauthBytes: Int = 2300
    /// Count a pure ACK for each downstream message the agent does not answer (the main
    /// uncertainty of the model: delayed ACKs can save some).
    public var ackUnansweredDownstream = true

    public init() {}

    /// One application message of `payload` bytes, upstream, as IP bytes.
    public func upstreamMessage(payload: Int) -> Int {
        payload + webSocketHeader + tlsRecord + tcpIPHeader
    }

    public struct Estimate: Equatable, Sendable {
        /// Answers to the server's keepalives and agent pings on the tunnel or control link.
        public var tunnel: Int
        /// Agent pings (and ACKs of their answers) on per-session connections.
        public var sessions: Int
        /// Periodic device auth.
        public var reauth: Int
        public var total: Int { tunnel + sessions + reauth }
    }

    /// Upstream bytes per hour with `idleSessions` idle sessions.
    public func perHour(
        transport: TransportVersion, idleSessions: Int, keepalive: KeepalivePolicy,
        phase: Millis = 0, reauth: ReauthPolicy
    ) -> Estimate {
        let hour: Int64 = 3_600_000
        let ack = ackUnansweredDownstream ? tcpIPHeader : 0
        let threshold = keepalive.pingThreshold(phase: phase)
        var tunnel = 0
        switch transport {
        case .v2:
            // Every server ping (35 s) is answered by a 12-byte yamux ping ACK.
            let serverPings = Int(hour / keepalive.v2ServerPing)
            tunnel = serverPings * upstreamMessage(payload: 12)
            if keepalive.agentPings(.v2Tunnel, phase: phase) {
                // The agent's own pings fill the gaps the server leaves; each is answered.
                let extra = max(0, Int(hour / threshold) - serverPings)
                tunnel += extra * (upstreamMessage(payload: 12) + ack)
            }
        case .v1:
            // Server: a WebSocket ping and a JSON keep-alive every 30 s; the agent pongs the
            // first and only ACKs the second (it sends no keep-alives of its own).
            let period: Int64 = .seconds(30)
            let n = Int(hour / period)
            tunnel = n * (upstreamMessage(payload: 0) + ack)
        }
        var sessions = 0
        if transport == .v1 {
            // Idle dial-backs: one WebSocket ping each per threshold, its pong ACKed.
            let pings = Int(hour / threshold)
            sessions = idleSessions * pings * (upstreamMessage(payload: 0) + ack)
        }
        var reauthBytesPerHour = 0
        if reauth.interval > 0 {
            reauthBytesPerHour = Int(Int64(reauthBytes) * hour / reauth.interval)
        }
        return Estimate(tunnel: tunnel, sessions: sessions, reauth: reauthBytesPerHour)
    }
}

