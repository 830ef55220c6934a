import Testing
@testable import TetherAgent

@Suite struct BackoffTests {
    @Test func ceilingDoublesUpToCap() {
        let p = RetryPolicy(base: .seconds(1), cap: .seconds(300))
        let ceilings = (0..<12).map { p.ceiling(afterFailures: $0) / 1000 }
        #expect(ceilings == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300])
        #expect(p.ceiling(afterFailures: 10_000) == .seconds(300))
    }

    @Test func fullJitterSpansZeroToCeiling() {
        var high = HighestRandom()
        var low = LowestRandom()
        var a = Backoff(policy: .tunnelDial)
        var b = Backoff(policy: .tunnelDial)
        for n in 0..<10 {
            let ceiling = RetryPolicy.tunnelDial.ceiling(afterFailures: n)
            #expect(a.failed(using: &high) == ceiling)
            #expect(b.failed(using: &low) == 0)
        }
        #expect(a.failures == 10)
        a.reset()
        #expect(a.failures == 0)
        #expect(a.failed(using: &high) == .seconds(1))
    }

    @Test func jitterIsUniformNotLockStep() {
        // 1000 devices after the same number of failures spread over the whole window.
        var rng = SeededRandom(seed: 42)
        var buckets = [Int](repeating: 0, count: 10)
        for _ in 0..<1000 {
            var b = Backoff(policy: .tunnelDial)
            for _ in 0..<9 { _ = b.failed(using: &rng) }
            let d = b.failed(using: &rng)  // ceiling 300 s
            #expect(d >= 0 && d <= .seconds(300))
            buckets[min(9, Int(d / .seconds(30)))] += 1
        }
        #expect(buckets.allSatisfy { $0 > 60 && $0 < 140 })
    }

    @Test func retryAfterIsAFloorWithinItsCap() {
        var low = LowestRandom()
        var b = Backoff(policy: .api)
        #expect(b.failed(retryAfter: .seconds(30), using: &low) == .seconds(30))
        #expect(b.failed(retryAfter: .seconds(7200), using: &low) == .seconds(3600))
        var high = HighestRandom()
        var c = Backoff(policy: .api)
        #expect(c.failed(retryAfter: 500, using: &high) == .seconds(2))
    }

    @Test func reauthIntervalJitter() {
        let p = ReauthPolicy(interval: .seconds(3600))
        var high = HighestRandom()
        var low = LowestRandom()
        #expect(p.nextDelay(using: &high) == .seconds(4320))
        #expect(p.nextDelay(using: &low) == .seconds(2880))
        var none = ReauthPolicy(interval: 0)
        #expect(none.nextDelay(using: &high) == nil)
        none.jitterPercent = 0
        #expect(none.nextDelay(using: &high) == nil)
    }

    @Test func authVerdicts() {
        #expect(DeviceAuthVerdict.classify(status: 200, token: "jwt") == .authenticated(token: "jwt"))
        #expect(DeviceAuthVerdict.classify(status: 200, token: nil) == .retry(.badResponse, retryAfter: nil))
        #expect(DeviceAuthVerdict.classify(status: 401, token: nil) == .deviceRemoved)
        #expect(DeviceAuthVerdict.classify(status: 429, token: nil, retryAfterSeconds: 20)
            == .retry(.rateLimited, retryAfter: .seconds(20)))
        #expect(DeviceAuthVerdict.classify(status: 503, token: nil) == .retry(.serverError(503), retryAfter: nil))
        #expect(DeviceAuthVerdict.classify(status: 502, token: nil, retryAfterSeconds: 9)
            == .retry(.serverError(502), retryAfter: nil))
        #expect(DeviceAuthVerdict.classify(status: 404, token: nil) == .retry(.refused(404), retryAfter: nil))
        #expect(DeviceAuthVerdict.classify(status: 400, token: nil) == .retry(.refused(400), retryAfter: nil))
    }
}
