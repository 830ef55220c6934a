import Testing
import TetherWire
@testable import TetherAgent

/// An idle hour of the agent's state machines wired together the way the runtime wires them,
/// against a simulated ShellHub server with its default ping intervals. It counts what the
/// agent sends and how often it wakes up on its own: the "quiet by design" claims, checked at
/// the state-machine level (the byte counts on the wire are BENCHMARKS.md's job).
@Suite struct IdleHourSimulationTests {
    @Test(arguments: [0, 1, 10])
    func v2AgentOnlyAnswersServerPings(sessions: Int) throws {
        var rng = SeededRandom(seed: 11)
        let policy = KeepalivePolicy(middleboxIdle: .seconds(60))
        var keepalive = KeepaliveScheduler(policy: policy, capacity: 1, using: &rng)
        var peer = ServerPeer(slots: 16)
        keepalive.open(0, role: .v2Tunnel, now: .zero)
        for n in 0..<sessions {
            _ = try peer.open(UInt32(2 * n + 1), "/ssh/open/1.0.0", header: "{\"id\":\"s\(n)\"}")
        }
        #expect(peer.takeActions().count == sessions)
        var lifecycle = TunnelLifecycle(reauth: ReauthPolicy(interval: .seconds(4 * 3600)))
        lifecycle.bringUp(using: &rng)

        var upstreamBytes = 0
        var ownWakeUps = 0
        var serverPings = 0
        var nextServerPing = Instant.s(35)
        let end = Instant.s(3600)
        while true {
            let timer = earliest(keepalive.nextDeadline(), earliest(lifecycle.nextDeadline, peer.tunnel.nextDeadline))
            if let t = timer, t < nextServerPing {
                // The agent wakes on its own: nothing should be due in an idle hour.
                ownWakeUps += 1
                let f = keepalive.fire(now: t)
                #expect(f.isEmpty)
                _ = lifecycle.timerFired(now: t)
                peer.tunnel.timerFired(now: t)
                break
            }
            guard nextServerPing <= end else { break }
            let now = nextServerPing
            peer.now = now
            serverPings += 1
            let out = try peer.send(ServerPeer.frame(.ping, .syn, 0, length: UInt32(serverPings)))
            keepalive.noteReceived(0, now: now)
            #expect(out.count == 1)
            #expect(out.first?.header.flags == .ack)
            upstreamBytes += out.count * YamuxHeader.size
            keepalive.noteSent(0, now: now)
            #expect(peer.takeActions() == [.serverPing])
            nextServerPing = now + .seconds(35) + 30  // 35 s plus the server's RTT
        }
        #expect(ownWakeUps == 0)
        #expect(serverPings == 102)
        // 12 bytes of yamux per server ping and nothing else, whatever the number of sessions.
        #expect(upstreamBytes == 102 * 12)
    }

    @Test func v1IdleDialBacksCostOneWakeUpPerInterval() throws {
        var rng = SeededRandom(seed: 5)
        let policy = KeepalivePolicy(middleboxIdle: .seconds(60))
        var keepalive = KeepaliveScheduler(policy: policy, capacity: 1 + 10, using: &rng)
        var v1 = V1Sessions(sessionSlots: 10)
        keepalive.open(0, role: .v1Control, now: .zero)
        for n in 1...10 {
            let t = Instant.s(Int64(7 * n))
            let path = "/ssh/revdial?revdial.dialer=d&uuid=\(n)"
            try v1.controlReceived(Array("{\"command\":\"conn-ready\",\"connPath\":\"\(path)\"}\n".utf8), now: t)
            v1.dialBackConnected(connPath: path, conn: n, now: t)
            v1.dialBackReceived(conn: n, Array("GET /ssh/s\(n) HTTP/1.1\r\nHost: \r\n\r\n".utf8))
            keepalive.open(n, role: .v1DialBack, now: t)
        }
        var actions: [V1Action] = []
        while let a = v1.nextAction() { actions.append(a) }
        #expect(actions.filter { if case .openSSH = $0 { return true } else { return false } }.count == 10)

        var ownWakeUps = 0
        var dialBackPings = 0
        var nextServerTraffic = Instant.s(30)
        let end = Instant.s(3600)
        while true {
            let timer = keepalive.nextDeadline()!
            let now = min(timer, nextServerTraffic)
            if now > end { break }
            if now == nextServerTraffic {
                // Keep-alive and WebSocket ping on the control link; the agent pongs.
                keepalive.noteReceived(0, now: now)
                keepalive.noteSent(0, now: now)
                nextServerTraffic = now + .seconds(30)
            }
            if now == timer {
                ownWakeUps += 1
                let f = keepalive.fire(now: now)
                #expect(f.dead.isEmpty)
                #expect(!f.pings.contains(0))  // the control link is warm already
                dialBackPings += f.pings.count
                for id in f.pings { keepalive.noteReceived(id, now: now + 50) }  // pongs
            }
        }
        let threshold = keepalive.pingThreshold
        let intervals = Int(3600_000 / threshold)
        #expect(ownWakeUps <= intervals + 2)
        #expect(dialBackPings <= 10 * (intervals + 2))
        #expect(dialBackPings >= 10 * (intervals - 1))
    }
}
