/// Decides when each connection needs a ping and when a peer is dead, for a fixed table of
/// connections, and folds everything into one deadline so the event loop sleeps until then.
///
/// Rules (ARCHITECTURE.md "Keepalive: quiet by design"):
/// - a connection is due a ping when it has been silent in both directions for
///   `threshold = middleboxIdle - margin - phase`; `phase` is drawn once per agent;
/// - a connection the server already pings more often than that never gets agent pings;
/// - when any ping is due, every pingable connection silent for at least half the threshold
///   is pinged in the same wake-up; after at most two wake-ups the idle connections share one
///   phase, so N idle connections cost one wake-up per interval, not N;
/// - dead peer: no byte received for the server's ping period + grace, or no answer to an
///   agent ping within the grace.
///
/// Connection ids are table indices chosen by the runtime (e.g. 0 for the tunnel, 1 + slot
/// for dial-backs). The table is allocated once at init.
public struct KeepaliveScheduler: Sendable {
    public let policy: KeepalivePolicy
    /// The per-agent random phase, in 0...maxPhaseJitter.
    public let phase: Millis

    private struct Entry: Sendable {
        var open = false
        var role = ConnectionRole.v1DialBack
        var lastSent = Instant.zero
        var lastReceived = Instant.zero
        /// When an agent ping went out with nothing received since.
        var pingOutstandingSince: Instant? = nil
        var deadReported = false
    }

    private var entries: [Entry]

    public init<R: RandomNumberGenerator>(policy: KeepalivePolicy, capacity: Int, using rng: inout R) {
        self.policy = policy
        self.phase = policy.maxPhaseJitter > 0 ? Millis.random(in: 0...policy.maxPhaseJitter, using: &rng) : 0
        self.entries = [Entry](repeating: Entry(), count: capacity)
    }

    public var capacity: Int { entries.count }

    /// Silence (both directions) after which a connection must be pinged.
    public var pingThreshold: Millis { policy.pingThreshold(phase: phase) }

    /// Silence after which a connection is pinged along with one that is due.
    public var coalesceThreshold: Millis { pingThreshold / 2 }

    /// Whether the agent ever pings a connection of this role under this policy.
    public func agentPings(_ role: ConnectionRole) -> Bool { policy.agentPings(role, phase: phase) }

    public mutating func open(_ id: Int, role: ConnectionRole, now: Instant) {
        entries[id] = Entry(open: true, role: role, lastSent: now, lastReceived: now)
    }

    public mutating func close(_ id: Int) { entries[id].open = false }

    public func isOpen(_ id: Int) -> Bool { entries[id].open }

    /// A dead report the runtime chose not to act on: watch the connection afresh from `now`
    /// (its pings keep going out when it is idle; the next missed answer reports it again).
    public mutating func revive(_ id: Int, now: Instant) {
        guard entries[id].open else { return }
        entries[id].deadReported = false
        entries[id].pingOutstandingSince = nil
        if now > entries[id].lastReceived { entries[id].lastReceived = now }
    }

    /// Any frame written on the connection (including a pong or a ping ACK).
    public mutating func noteSent(_ id: Int, now: Instant) {
        if now > entries[id].lastSent { entries[id].lastSent = now }
    }

    /// Any bytes read from the connection.
    public mutating func noteReceived(_ id: Int, now: Instant) {
        if now > entries[id].lastReceived { entries[id].lastReceived = now }
        entries[id].pingOutstandingSince = nil
    }

    private func lastActivity(_ e: Entry) -> Instant { max(e.lastSent, e.lastReceived) }

    private func pingDue(_ e: Entry) -> Instant? {
        agentPings(e.role) ? lastActivity(e) + pingThreshold : nil
    }

    private func deadAt(_ e: Entry) -> Instant? {
        var at: Instant? = nil
        if let server = policy.serverPing(e.role) {
            at = e.lastReceived + server + policy.deadPeerGrace
        }
        if let p = e.pingOutstandingSince { at = earliest(at, p + policy.deadPeerGrace) }
        return at
    }

    /// When the runtime must call `fire` next; nil = no connection needs a timer.
    public func nextDeadline() -> Instant? {
        var next: Instant? = nil
        for e in entries where e.open && !e.deadReported {
            next = earliest(next, pingDue(e))
            next = earliest(next, deadAt(e))
        }
        return next
    }

    /// The work due at `now`: connections to ping (already counted as sent now) and
    /// connections whose peer is dead (reported once; the runtime closes them).
    public mutating func fire(now: Instant) -> KeepaliveFiring {
        var firing = KeepaliveFiring()
        var anyPingDue = false
        for i in entries.indices where entries[i].open && !entries[i].deadReported {
            if let d = deadAt(entries[i]), now >= d {
                entries[i].deadReported = true
                firing.dead.append(i)
            } else if let p = pingDue(entries[i]), now >= p {
                anyPingDue = true
            }
        }
        guard anyPingDue else { return firing }
        for i in entries.indices where entries[i].open && !entries[i].deadReported {
            let e = entries[i]
            guard agentPings(e.role), now - lastActivity(e) >= coalesceThreshold else { continue }
            firing.pings.append(i)
            entries[i].lastSent = now
            if e.pingOutstandingSince == nil { entries[i].pingOutstandingSince = now }
        }
        return firing
    }
}

/// What `KeepaliveScheduler.fire` asks the runtime to do.
public struct KeepaliveFiring: Equatable, Sendable {
    /// Send one ping on each (WebSocket ping on v1; yamux or WebSocket ping on v2).
    public var pings: [Int] = []
    /// Close each: the peer is gone.
    public var dead: [Int] = []

    public var isEmpty: Bool { pings.isEmpty && dead.isEmpty }
}
