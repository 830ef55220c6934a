/// How a failed operation is retried: capped exponential backoff with AWS "full jitter",
/// `delay = random(0 ... min(cap, base * 2^failures))`. A small declarative value in the spirit
/// of libwebsockets' `lws_retry_bo_t`; `AgentPolicy` gathers all of them.
public struct RetryPolicy: Equatable, Sendable {
    /// Ceiling of the first retry's delay.
    public var base: Millis
    /// Largest ceiling; reached after log2(cap/base) failures.
    public var cap: Millis
    /// A server's `Retry-After` is obeyed up to this much (the Go agent caps it at 1 h).
    public var maxRetryAfter: Millis

    public init(base: Millis, cap: Millis, maxRetryAfter: Millis = .seconds(3600)) {
        precondition(base > 0 && cap >= base, "retry policy needs 0 < base <= cap")
        self.base = base
        self.cap = cap
        self.maxRetryAfter = maxRetryAfter
    }

    /// Tunnel dials: the first retry within 1 s (a blip costs little), then doubling up to
    /// 5 min, so a fleet coming back after a hub outage spreads over 5 minutes instead of
    /// the Go agent's lock-step 10 s.
    public static let tunnelDial = RetryPolicy(base: .seconds(1), cap: .seconds(300))
    /// Device-API requests (auth, info): same shape, starting at 2 s (the Go agent waits a
    /// flat random 5-64 s).
    public static let api = RetryPolicy(base: .seconds(2), cap: .seconds(300))

    /// The delay ceiling after `failures` consecutive failures (0 = first retry).
    public func ceiling(afterFailures failures: Int) -> Millis {
        var c = base
        var n = 0
        while n < failures && c < cap {
            c = c > cap / 2 ? cap : c * 2
            n += 1
        }
        return min(c, cap)
    }
}

/// The retry state of one operation under a `RetryPolicy`. Randomness is injected.
public struct Backoff: Sendable {
    public let policy: RetryPolicy
    /// Consecutive failures so far; 0 after a success.
    public private(set) var failures: Int = 0

    public init(policy: RetryPolicy) { self.policy = policy }

    /// Records a failure and returns how long to wait before the next attempt. A server's
    /// `Retry-After` (if any) is a floor, bounded by `maxRetryAfter`.
    public mutating func failed<R: RandomNumberGenerator>(
        retryAfter: Millis? = nil, using rng: inout R
    ) -> Millis {
        let ceiling = policy.ceiling(afterFailures: failures)
        failures += 1
        let jittered = Millis.random(in: 0...ceiling, using: &rng)
        if let floor = retryAfter, floor > jittered { return min(floor, policy.maxRetryAfter) }
        return jittered
    }

    /// A success: the next failure starts again from `base`.
    public mutating func reset() { failures = 0 }
}
