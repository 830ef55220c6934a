import Testing
@testable import TetherAgent

@Suite struct LifecycleReporterTests {
    @Test func onePerChangeNotPerRetry() {
        var rng = SeededRandom(seed: 3)
        var l = TunnelLifecycle(reauth: ReauthPolicy(interval: 0))
        var r = LifecycleReporter()
        var lines: [String] = []
        func note(_ l: TunnelLifecycle) { if let s = r.line(for: l) { lines.append(s) } }
        _ = l.start(now: .zero)
        note(l)
        var now = Instant.zero
        // A day of a hub answering 502: one line.
        for _ in 0..<500 {
            _ = l.authFinished(.retry(.serverError(502), retryAfter: nil), now: now, using: &rng)
            note(l)
            now = l.nextDeadline!
            _ = l.timerFired(now: now)
            note(l)
        }
        // Auth works but the tunnel dial fails: a new cause, one more line.
        for _ in 0..<50 {
            _ = l.authFinished(.authenticated(token: "t"), now: now, using: &rng)
            note(l)
            _ = l.dialFinished(.failed, now: now, using: &rng)
            note(l)
            now = l.nextDeadline!
            _ = l.timerFired(now: now)
            note(l)
        }
        if l.phase == .authenticating { _ = l.authFinished(.authenticated(token: "t"), now: now, using: &rng) }
        _ = l.dialFinished(.connected, now: now, using: &rng)
        note(l)
        // A later drop after being up starts a new outage: one line again.
        now = now + .seconds(3600)
        l.tunnelLost(now: now, using: &rng)
        note(l)
        #expect(lines == [
            "auth: registering device",
            "tunnel: down (HTTP 502), retrying with backoff",
            "tunnel: down (network), retrying with backoff",
            "tunnel: up",
            "tunnel: down (network), retrying with backoff",
        ])
        #expect(lines.allSatisfy { $0.utf8.count <= 80 })
    }
}
