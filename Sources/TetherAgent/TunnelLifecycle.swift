/// The agent's connection lifecycle: authenticate, dial the tunnel, stay up, re-authenticate
/// on schedule, and after any failure wait a jittered backoff and start again.
///
/// Sans-I/O: the runtime performs the returned `Action`, reports its outcome through the
/// matching method, and arms one timer at `nextDeadline` that calls `timerFired`. It logs a
/// line when `phase` or `lastCause` changes (not per retry, so outages stay quiet).
public struct TunnelLifecycle: Sendable {
    public enum Phase: Equatable, Sendable {
        /// Not started.
        case idle
        /// Device auth before a dial is in flight.
        case authenticating
        /// The tunnel WebSocket is being dialed.
        case dialing
        /// The tunnel is up.
        case connected
        /// Backing off after a failure; `nextDeadline` says until when.
        case waiting
        /// The server answered 401 to device auth: the device was removed (terminal).
        case removed
    }

    public enum Action: Equatable, Sendable {
        /// Send `POST /api/devices/auth`; report with `authFinished`.
        case authenticate
        /// Dial the tunnel with this token; report with `dialFinished`.
        case dial(token: String)
        /// Close any tunnel and stop serving: the device was removed (PROTOCOL.md 11).
        case deviceRemoved
    }

    public enum DialOutcome: Equatable, Sendable {
        case connected
        /// Network error, timeout or a non-101 answer other than 401.
        case failed
        /// 401 to the upgrade: the token is not accepted; re-authenticate before the next dial.
        case unauthorized
    }

    public private(set) var phase: Phase = .idle
    /// Why the last attempt failed; nil after a success.
    public private(set) var lastCause: RetryCause? = nil
    /// The newest token and when it was obtained.
    public private(set) var token: String? = nil
    private var tokenAt: Instant? = nil

    private var dialBackoff: Backoff
    private var apiBackoff: Backoff
    private let reauth: ReauthPolicy
    /// A tunnel that stayed up this long resets the dial backoff when it drops; one that
    /// drops sooner keeps backing off, so a flapping tunnel cannot redial in a tight loop.
    public let stableAfter: Millis

    /// What the last device auth answer said: `status` pending (an answer without a status,
    /// the server's 30 s cache, changes nothing). Set by the runtime before `authFinished`.
    public var devicePending = false

    private var waitUntil: Instant? = nil
    private var reauthAt: Instant? = nil
    private var periodicAuthInFlight = false
    private var connectedAt: Instant? = nil

    public init(
        dialRetry: RetryPolicy = .tunnelDial, apiRetry: RetryPolicy = .api, reauth: ReauthPolicy,
        stableAfter: Millis = .seconds(60)
    ) {
        self.dialBackoff = Backoff(policy: dialRetry)
        self.apiBackoff = Backoff(policy: apiRetry)
        self.reauth = reauth
        self.stableAfter = stableAfter
    }

    /// Consecutive failed dials (for a log line such as "retry 5").
    public var dialFailures: Int { dialBackoff.failures }
    public var authFailures: Int { apiBackoff.failures }

    /// The one deadline the runtime arms a timer for; nil = nothing scheduled.
    public var nextDeadline: Instant? {
        switch phase {
        case .waiting: return waitUntil
        case .connected: return periodicAuthInFlight ? nil : reauthAt
        default: return nil
        }
    }

    /// Starts the lifecycle: the first action is a device auth.
    public mutating func start(now: Instant) -> Action? {
        guard phase == .idle else { return nil }
        phase = .authenticating
        return .authenticate
    }

    public mutating func authFinished<R: RandomNumberGenerator>(
        _ verdict: DeviceAuthVerdict, now: Instant, using rng: inout R
    ) -> Action? {
        let periodic = periodicAuthInFlight
        periodicAuthInFlight = false
        switch verdict {
        case .authenticated(let t):
            token = t
            tokenAt = now
            apiBackoff.reset()
            lastCause = nil
            if phase == .authenticating {
                phase = .dialing
                return .dial(token: t)
            }
            if phase == .connected { scheduleReauth(after: now, using: &rng) }
            return nil
        case .deviceRemoved:
            guard phase != .removed else { return nil }
            phase = .removed
            token = nil
            return .deviceRemoved
        case .retry(let cause, let retryAfter):
            lastCause = cause
            let delay = apiBackoff.failed(retryAfter: retryAfter, using: &rng)
            if phase == .authenticating {
                phase = .waiting
                waitUntil = now + delay
            } else if phase == .connected && periodic {
                // The tunnel is fine; try the re-auth again later, backing off.
                reauthAt = now + delay
            }
            return nil
        }
    }

    public mutating func dialFinished<R: RandomNumberGenerator>(
        _ outcome: DialOutcome, now: Instant, using rng: inout R
    ) -> Action? {
        guard phase == .dialing else { return nil }
        switch outcome {
        case .connected:
            phase = .connected
            connectedAt = now
            lastCause = nil
            scheduleReauth(after: tokenAt ?? now, using: &rng)
        case .failed, .unauthorized:
            if outcome == .unauthorized { token = nil }
            lastCause = outcome == .unauthorized ? .refused(401) : .network
            phase = .waiting
            waitUntil = now + dialBackoff.failed(using: &rng)
        }
        return nil
    }

    /// The tunnel dropped (EOF, error, or dead-peer detection by the keepalive scheduler).
    public mutating func tunnelLost<R: RandomNumberGenerator>(now: Instant, using rng: inout R) {
        guard phase == .connected else { return }
        if let up = connectedAt, now - up >= stableAfter { dialBackoff.reset() }
        phase = .waiting
        connectedAt = nil
        periodicAuthInFlight = false
        lastCause = .network
        waitUntil = now + dialBackoff.failed(using: &rng)
    }

    /// Called when `nextDeadline` has passed (calling early is harmless).
    public mutating func timerFired(now: Instant) -> Action? {
        switch phase {
        case .waiting:
            guard let until = waitUntil, now >= until else { return nil }
            waitUntil = nil
            // Re-auth before every dial, unless the token is fresher than the server's cache.
            if let t = token, let at = tokenAt, now - at < reauth.freshness {
                phase = .dialing
                return .dial(token: t)
            }
            phase = .authenticating
            return .authenticate
        case .connected:
            guard !periodicAuthInFlight, let at = reauthAt, now >= at else { return nil }
            periodicAuthInFlight = true
            reauthAt = nil
            return .authenticate
        default:
            return nil
        }
    }

    private mutating func scheduleReauth<R: RandomNumberGenerator>(after: Instant, using rng: inout R) {
        reauthAt = reauth.nextDelay(pending: devicePending, using: &rng).map { after + $0 }
    }
}
