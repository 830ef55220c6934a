/// When the agent re-authenticates (`POST /api/devices/auth`) while its tunnel is up.
///
/// Re-auth happens before every tunnel dial (as newer Go agents do, PROTOCOL.md 11) and then
/// every `interval` ± `jitterPercent`. It only refreshes `last_seen`, `info` and the device
/// name: online status comes from the tunnel heartbeats (PROTOCOL.md 4.4, 5.4), so the interval
/// can be long; see `ConfigLimits.defaultReauthIntervalSeconds` for the default's reasoning.
public struct ReauthPolicy: Equatable, Sendable {
    /// 0 = no periodic re-auth, only before each dial.
    public var interval: Millis
    public var jitterPercent: Int
    /// A token younger than this is reused for a dial without re-auth: the server caches an
    /// auth for 30 s (PROTOCOL.md 4.2), so a repeat within it would change nothing.
    public var freshness: Millis
    /// While the server says the device is pending: a pending device's enrollment (a
    /// provisioning key in webhook or allowlist mode) is re-evaluated on its device auth, at
    /// most once a minute (`models.EnrollmentReconcileInterval`, server/api/services/
    /// enrollment.go), so a decision lands within about a minute instead of hours.
    public var pendingInterval: Millis

    public init(interval: Millis, jitterPercent: Int = 20, freshness: Millis = .seconds(30),
                pendingInterval: Millis = .seconds(60)) {
        self.interval = interval
        self.jitterPercent = jitterPercent
        self.freshness = freshness
        self.pendingInterval = pendingInterval
    }

    /// The delay until the next periodic re-auth: uniform in interval ± jitterPercent % (the
    /// pending interval, never longer than the interval, while the device is pending).
    public func nextDelay<R: RandomNumberGenerator>(pending: Bool = false, using rng: inout R) -> Millis? {
        guard interval > 0 else { return nil }
        let base = pending ? min(pendingInterval, interval) : interval
        let spread = base * Millis(jitterPercent) / 100
        return base - spread + Millis.random(in: 0...(2 * spread), using: &rng)
    }
}
