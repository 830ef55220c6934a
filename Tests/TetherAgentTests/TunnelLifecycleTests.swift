import Testing
@testable import TetherAgent

extension TunnelLifecycle {
    /// start -> auth with token "t" -> connected, all at time 0.
    mutating func bringUp<R: RandomNumberGenerator>(using rng: inout R) {
        _ = start(now: .s(0))
        _ = authFinished(.authenticated(token: "t"), now: .s(0), using: &rng)
        _ = dialFinished(.connected, now: .s(0), using: &rng)
    }
}

@Suite struct TunnelLifecycleTests {
    let hour = ReauthPolicy(interval: .seconds(3600))

    @Test func aPendingDeviceReauthsEveryMinuteUntilAccepted() {
        var rng = HighestRandom()
        var l = TunnelLifecycle(reauth: ReauthPolicy(interval: .seconds(4 * 3600)))
        _ = l.start(now: .s(0))
        l.devicePending = true
        _ = l.authFinished(.authenticated(token: "t1"), now: .s(0), using: &rng)
        _ = l.dialFinished(.connected, now: .s(1), using: &rng)
        #expect(l.nextDeadline == .s(72))  // 60 s + 20 %
        #expect(l.timerFired(now: .s(72)) == .authenticate)
        _ = l.authFinished(.authenticated(token: "t2"), now: .s(73), using: &rng)
        #expect(l.nextDeadline == .s(73 + 72))
        // Accepted: back to the quiet interval.
        #expect(l.timerFired(now: .s(145)) == .authenticate)
        l.devicePending = false
        _ = l.authFinished(.authenticated(token: "t3"), now: .s(146), using: &rng)
        #expect(l.nextDeadline == .s(146 + 4 * 3600 * 12 / 10))
        // Never more often than the interval itself.
        #expect(ReauthPolicy(interval: .seconds(30)).nextDelay(pending: true, using: &rng) == 36_000)
    }

    @Test func happyPathThenPeriodicReauth() {
        var rng = HighestRandom()
        var l = TunnelLifecycle(reauth: hour)
        #expect(l.start(now: .s(0)) == .authenticate)
        #expect(l.phase == .authenticating)
        #expect(l.nextDeadline == nil)
        #expect(l.authFinished(.authenticated(token: "t1"), now: .s(1), using: &rng) == .dial(token: "t1"))
        #expect(l.phase == .dialing)
        #expect(l.dialFinished(.connected, now: .s(2), using: &rng) == nil)
        #expect(l.phase == .connected)
        // Next re-auth 1 h + 20 % after the auth that preceded the dial.
        #expect(l.nextDeadline == .s(1 + 4320))
        #expect(l.timerFired(now: .s(4000)) == nil)
        #expect(l.timerFired(now: .s(4321)) == .authenticate)
        #expect(l.nextDeadline == nil)  // in flight
        #expect(l.authFinished(.authenticated(token: "t2"), now: .s(4322), using: &rng) == nil)
        #expect(l.phase == .connected)
        #expect(l.token == "t2")
        #expect(l.nextDeadline == .s(4322 + 4320))
    }

    @Test func failedPeriodicReauthBacksOffAndKeepsTunnel() {
        var rng = HighestRandom()
        var l = TunnelLifecycle(reauth: hour)
        l.bringUp(using: &rng)
        #expect(l.timerFired(now: .s(5000)) == .authenticate)
        _ = l.authFinished(.retry(.serverError(502), retryAfter: nil), now: .s(5000), using: &rng)
        #expect(l.phase == .connected)
        #expect(l.lastCause == .serverError(502))
        #expect(l.nextDeadline == .s(5002))
        #expect(l.timerFired(now: .s(5002)) == .authenticate)
        _ = l.authFinished(.retry(.network, retryAfter: nil), now: .s(5002), using: &rng)
        #expect(l.nextDeadline == .s(5006))
    }

    @Test func removedDeviceStops() {
        var rng = HighestRandom()
        var l = TunnelLifecycle(reauth: hour)
        l.bringUp(using: &rng)
        _ = l.timerFired(now: .s(5000))
        #expect(l.authFinished(.deviceRemoved, now: .s(5000), using: &rng) == .deviceRemoved)
        #expect(l.phase == .removed)
        #expect(l.token == nil)
        #expect(l.nextDeadline == nil)
        #expect(l.timerFired(now: .s(99999)) == nil)
        // Also at first auth.
        var m = TunnelLifecycle(reauth: hour)
        _ = m.start(now: .s(0))
        #expect(m.authFinished(.deviceRemoved, now: .s(0), using: &rng) == .deviceRemoved)
    }

    @Test func authFailuresBackOffThenRetryAuth() {
        var rng = HighestRandom()
        var l = TunnelLifecycle(reauth: hour)
        _ = l.start(now: .s(0))
        var now = Instant.s(0)
        var waits: [Int64] = []
        for _ in 0..<5 {
            _ = l.authFinished(.retry(.network, retryAfter: nil), now: now, using: &rng)
            #expect(l.phase == .waiting)
            let d = l.nextDeadline!
            waits.append((d - now) / 1000)
            now = d
            #expect(l.timerFired(now: now) == .authenticate)
        }
        #expect(waits == [2, 4, 8, 16, 32])
        #expect(l.authFinished(.authenticated(token: "t"), now: now, using: &rng) == .dial(token: "t"))
        #expect(l.authFailures == 0)
    }

    @Test func dialFailureReusesFreshTokenElseReauths() {
        var rng = HighestRandom()
        var l = TunnelLifecycle(reauth: hour)
        _ = l.start(now: .s(0))
        _ = l.authFinished(.authenticated(token: "t"), now: .s(0), using: &rng)
        _ = l.dialFinished(.failed, now: .s(1), using: &rng)
        #expect(l.nextDeadline == .s(2))  // ceiling 1 s
        // Token is 2 s old: within the server's 30 s cache, dial again directly.
        #expect(l.timerFired(now: .s(2)) == .dial(token: "t"))
        _ = l.dialFinished(.unauthorized, now: .s(3), using: &rng)
        #expect(l.token == nil)
        #expect(l.lastCause == .refused(401))
        #expect(l.nextDeadline == .s(5))
        #expect(l.timerFired(now: .s(5)) == .authenticate)
        _ = l.authFinished(.authenticated(token: "u"), now: .s(6), using: &rng)
        _ = l.dialFinished(.failed, now: .s(7), using: &rng)
        #expect(l.nextDeadline == .s(11))  // third dial failure: ceiling 4 s
        _ = l.timerFired(now: .s(11))
        _ = l.authFinished(.authenticated(token: "v"), now: .s(11), using: &rng)
        _ = l.dialFinished(.failed, now: .s(40), using: &rng)
        // 40 + 8 = 48 s; token from 11 s is older than 30 s: re-auth first.
        #expect(l.timerFired(now: .s(48)) == .authenticate)
    }

    @Test func flappingTunnelKeepsBackingOffStableOneResets() {
        var rng = HighestRandom()
        var l = TunnelLifecycle(reauth: hour)
        _ = l.start(now: .s(0))
        var now = Instant.s(0)
        var waits: [Int64] = []
        _ = l.authFinished(.authenticated(token: "t"), now: now, using: &rng)
        for _ in 0..<4 {
            _ = l.dialFinished(.connected, now: now, using: &rng)
            now = now + .seconds(5)  // drops after 5 s: not stable
            l.tunnelLost(now: now, using: &rng)
            waits.append((l.nextDeadline! - now) / 1000)
            now = l.nextDeadline!
            let a = l.timerFired(now: now)
            if a == .authenticate { _ = l.authFinished(.authenticated(token: "t"), now: now, using: &rng) }
        }
        #expect(waits == [1, 2, 4, 8])
        _ = l.dialFinished(.connected, now: now, using: &rng)
        now = now + .seconds(600)
        l.tunnelLost(now: now, using: &rng)
        #expect(l.nextDeadline == now + .seconds(1))
        #expect(l.lastCause == .network)
    }

    @Test func noPeriodicReauthWhenIntervalIsZero() {
        var rng = HighestRandom()
        var l = TunnelLifecycle(reauth: ReauthPolicy(interval: 0))
        l.bringUp(using: &rng)
        #expect(l.nextDeadline == nil)
        #expect(l.timerFired(now: .s(1_000_000)) == nil)
    }

    @Test func lateAuthAnswerAfterTunnelLossOnlyRefreshesToken() {
        var rng = HighestRandom()
        var l = TunnelLifecycle(reauth: hour)
        l.bringUp(using: &rng)
        #expect(l.timerFired(now: .s(4320)) == .authenticate)
        l.tunnelLost(now: .s(4321), using: &rng)
        #expect(l.authFinished(.authenticated(token: "n"), now: .s(4321), using: &rng) == nil)
        #expect(l.phase == .waiting)
        // The fresh token is used for the redial without another auth.
        #expect(l.timerFired(now: l.nextDeadline!) == .dial(token: "n"))
    }
}
