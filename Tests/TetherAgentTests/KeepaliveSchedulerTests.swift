import Testing
@testable import TetherAgent

@Suite struct KeepaliveSchedulerTests {
    let sixty = KeepalivePolicy(middleboxIdle: .seconds(60))

    @Test func policyDefaults() {
        #expect(sixty.margin == .seconds(10))
        #expect(sixty.maxPhaseJitter == .seconds(5))
        #expect(KeepalivePolicy(middleboxIdle: .seconds(12)).margin == .seconds(3))
        var high = HighestRandom()
        var low = LowestRandom()
        let a = KeepaliveScheduler(policy: sixty, capacity: 1, using: &high)
        let b = KeepaliveScheduler(policy: sixty, capacity: 1, using: &low)
        #expect(a.pingThreshold == .seconds(45))
        #expect(b.pingThreshold == .seconds(50))
        // Server-warmed connections never get agent pings behind a 60 s middlebox...
        #expect(!a.agentPings(.v2Tunnel))
        #expect(!a.agentPings(.v1Control))
        #expect(a.agentPings(.v1DialBack))
        // ...but the v2 tunnel does behind a 30 s one (GCP): the server's 35 s is too slow.
        let gcp = KeepaliveScheduler(policy: KeepalivePolicy(middleboxIdle: .seconds(30)), capacity: 1, using: &low)
        #expect(gcp.agentPings(.v2Tunnel))
        #expect(gcp.agentPings(.v1Control))
    }

    @Test func phaseDiffersAcrossAgents() {
        var phases = Set<Millis>()
        for seed in 0..<20 {
            var rng = SeededRandom(seed: UInt64(seed))
            let s = KeepaliveScheduler(policy: sixty, capacity: 1, using: &rng)
            #expect(s.phase >= 0 && s.phase <= .seconds(5))
            phases.insert(s.phase)
        }
        #expect(phases.count > 15)
    }

    @Test func nothingOpenMeansNoTimer() {
        var rng = HighestRandom()
        var s = KeepaliveScheduler(policy: sixty, capacity: 4, using: &rng)
        #expect(s.nextDeadline() == nil)
        s.open(2, role: .v1DialBack, now: .s(0))
        #expect(s.nextDeadline() == .s(45))
        s.close(2)
        #expect(s.nextDeadline() == nil)
    }

    /// 10 idle v1 dial-backs opened 3 s apart: after the first two wake-ups they share one
    /// phase, then every wake-up pings all ten, one wake-up per interval.
    @Test func tenIdleDialBacksCoalesceIntoOneWakeUpPerInterval() {
        var rng = HighestRandom()
        var s = KeepaliveScheduler(policy: sixty, capacity: 11, using: &rng)
        var lastActivity = [Instant](repeating: .zero, count: 11)
        for i in 1...10 {
            s.open(i, role: .v1DialBack, now: .s(Int64(3 * (i - 1))))
            lastActivity[i] = .s(Int64(3 * (i - 1)))
        }
        var wakeUps = 0
        var pingsPerWakeUp: [Int] = []
        var maxSilence: Millis = 0
        let end = Instant.s(3600)
        while let t = s.nextDeadline(), t <= end {
            wakeUps += 1
            let f = s.fire(now: t)
            #expect(f.dead.isEmpty)
            pingsPerWakeUp.append(f.pings.count)
            for id in f.pings {
                maxSilence = max(maxSilence, t - lastActivity[id])
                lastActivity[id] = t
                // The server's pong arrives 80 ms later.
                s.noteReceived(id, now: t + 80)
                lastActivity[id] = t + 80
            }
        }
        #expect(pingsPerWakeUp.reduce(0, +) > 0)
        #expect(pingsPerWakeUp.count == wakeUps)
        #expect(Array(pingsPerWakeUp.dropFirst(2)).allSatisfy { $0 == 10 })
        // 3600 s / 45 s = 80 intervals, plus the one extra wake-up of the first round.
        #expect(wakeUps <= 82)
        // No connection was ever silent longer than the middlebox tolerates, minus the margin.
        #expect(maxSilence <= sixty.middleboxIdle - sixty.margin)
    }

    @Test func connectionWithTrafficIsNeverPinged() {
        var rng = HighestRandom()
        var s = KeepaliveScheduler(policy: sixty, capacity: 3, using: &rng)
        s.open(0, role: .v1DialBack, now: .zero)
        s.open(1, role: .v1DialBack, now: .zero)
        var pinged: Set<Int> = []
        var now = Instant.zero
        var nextTraffic = Instant.s(10)
        let end = Instant.s(3600)
        while now < end {
            let deadline = s.nextDeadline()!
            if nextTraffic <= deadline {
                now = nextTraffic
                // Connection 1 carries an SSH session: output every 10 s, one way only.
                s.noteSent(1, now: now)
                nextTraffic = now + .seconds(10)
                continue
            }
            now = deadline
            let f = s.fire(now: now)
            pinged.formUnion(f.pings)
            for id in f.pings { s.noteReceived(id, now: now) }
        }
        #expect(pinged == [0])
    }

    @Test func serverPingedTunnelNeedsNoAgentPingsAndDetectsDeadPeer() {
        var rng = HighestRandom()
        var s = KeepaliveScheduler(policy: sixty, capacity: 1, using: &rng)
        s.open(0, role: .v2Tunnel, now: .zero)
        // Only the dead-peer deadline: 35 s server period + 15 s grace.
        #expect(s.nextDeadline() == .s(50))
        // Server pings every 35 s (+ RTT); the agent answers at once.
        var now = Instant.zero
        for _ in 0..<100 {
            now = now + .seconds(35) + 40
            #expect(s.fire(now: now).isEmpty)
            s.noteReceived(0, now: now)
            s.noteSent(0, now: now)
            #expect(s.nextDeadline() == now + .seconds(50))
        }
        // The server stops pinging: dead exactly 50 s after the last bytes, reported once.
        let last = now
        #expect(s.fire(now: last + .seconds(49)).isEmpty)
        #expect(s.fire(now: last + .seconds(50)) == KeepaliveFiring(pings: [], dead: [0]))
        #expect(s.fire(now: last + .seconds(60)).isEmpty)
        #expect(s.nextDeadline() == nil)
    }

    @Test func v1ControlDeadAfterKeepAliveGap() {
        var rng = LowestRandom()
        var s = KeepaliveScheduler(policy: sixty, capacity: 1, using: &rng)
        s.open(0, role: .v1Control, now: .s(100))
        s.noteReceived(0, now: .s(130))
        #expect(s.nextDeadline() == .s(180))
        #expect(s.fire(now: .s(180)).dead == [0])
    }

    @Test func unansweredDialBackPingMeansDeadPeer() {
        var rng = HighestRandom()
        var s = KeepaliveScheduler(policy: sixty, capacity: 2, using: &rng)
        s.open(1, role: .v1DialBack, now: .zero)
        #expect(s.fire(now: .s(45)).pings == [1])
        // No pong: dead 15 s after the ping.
        #expect(s.nextDeadline() == .s(60))
        #expect(s.fire(now: .s(60)).dead == [1])
        // A pong in time keeps it alive.
        s.open(0, role: .v1DialBack, now: .s(100))
        #expect(s.fire(now: .s(145)).pings == [0])
        s.noteReceived(0, now: .s(146))
        #expect(s.nextDeadline() == .s(146 + 45))
    }

    /// A dial-back whose peer is not reading yet (ShellHub before its SSH client starts):
    /// the runtime revives the dead report; pings keep going out, each miss reported again.
    @Test func revivedDialBackIsPingedAgainAndReportedAgain() {
        var rng = HighestRandom()
        var s = KeepaliveScheduler(policy: sixty, capacity: 2, using: &rng)
        s.open(1, role: .v1DialBack, now: .zero)
        #expect(s.fire(now: .s(45)).pings == [1])
        #expect(s.fire(now: .s(60)).dead == [1])
        #expect(s.nextDeadline() == nil)
        s.revive(1, now: .s(60))
        #expect(s.nextDeadline() == .s(105))
        #expect(s.fire(now: .s(105)).pings == [1])
        #expect(s.fire(now: .s(120)).dead == [1])
        // Closed connections are not revived.
        s.close(1)
        s.revive(1, now: .s(121))
        #expect(s.nextDeadline() == nil)
    }

    @Test func gcpMiddleboxPingsTheV2TunnelToo() {
        var rng = LowestRandom()
        let policy = KeepalivePolicy(middleboxIdle: .seconds(30))
        var s = KeepaliveScheduler(policy: policy, capacity: 1, using: &rng)
        s.open(0, role: .v2Tunnel, now: .zero)
        #expect(s.pingThreshold == .seconds(25))
        #expect(s.nextDeadline() == .s(25))
        #expect(s.fire(now: .s(25)).pings == [0])
        // A server ping at 35 s resets both sides of the silence.
        s.noteReceived(0, now: .s(35))
        s.noteSent(0, now: .s(35))
        #expect(s.nextDeadline() == .s(60))
    }
}

@Suite struct IdleTrafficModelTests {
    let model = IdleTrafficModel()
    let sixty = KeepalivePolicy(middleboxIdle: .seconds(60))
    let fourHours = ReauthPolicy(interval: .seconds(4 * 3600))

    @Test func v2IsNearTheFloorWhateverTheSessions() {
        // 102 server pings per hour, each answered by a 99-byte ACK over TLS 1.2.
        let e0 = model.perHour(transport: .v2, idleSessions: 0, keepalive: sixty, reauth: fourHours)
        let e10 = model.perHour(transport: .v2, idleSessions: 10, keepalive: sixty, reauth: fourHours)
        #expect(e0.tunnel == 102 * 99)
        #expect(e0.sessions == 0)
        #expect(e0 == e10)
        #expect(e0.reauth == 575)
        // Within 25 % of the 8.5 floor (92 B per 35 s with TLS 1.3 = 9.46 KB/h), even on TLS 1.2.
        let floor = 3600.0 / 35.0 * 92.0
        #expect(Double(e0.total) <= floor * 1.25)
    }

    @Test func tightMiddleboxAddsAgentPingsOnV2() {
        let gcp = KeepalivePolicy(middleboxIdle: .seconds(30))
        let e = model.perHour(transport: .v2, idleSessions: 0, keepalive: gcp, reauth: fourHours)
        // Threshold 25 s: 144 intervals per hour, 102 covered by server pings, 42 agent pings.
        #expect(e.tunnel == 102 * 99 + 42 * (99 + 52))
    }

    @Test func v1SessionsCostOnePingEachPerInterval() {
        let e = model.perHour(transport: .v1, idleSessions: 10, keepalive: sixty, reauth: fourHours)
        #expect(e.tunnel == 120 * (87 + 52))
        #expect(e.sessions == 10 * 72 * (87 + 52))
    }
}
