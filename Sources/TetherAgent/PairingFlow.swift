import TetherWire

/// Tenant-less pairing as a sans-I/O state machine (PROTOCOL.md 4.6). The device asks for a
/// code, shows it (a person accepts it in ShellHub's web UI), polls every 3 s until the code is
/// accepted, rejected or expired, and ends with the tenant, which the runtime persists as
/// `<key>.tenant`. A code that expires or is rejected is not followed by another at once: the
/// next one comes after `pause` (a device nobody pairs must not poll forever); so does a restart.
public struct PairingFlow: Sendable {
    public enum Action: Equatable, Sendable {
        /// Send `POST /api/devices/pairing`; report with `requestFinished`.
        case request
        /// Send `GET /api/devices/pairing/<code>/status`; report with `pollFinished`.
        case poll(code: String)
        /// A new code: show it (log the accept URL); polling follows by timer.
        case show(code: String, expiresInSeconds: Int64)
        /// Paired: persist the tenant and authenticate with it.
        case paired(tenant: String)
        /// The code ended without pairing; the next code is requested at `nextDeadline`.
        case codeEnded(CodeEnd)
    }

    public enum CodeEnd: Equatable, Sendable {
        case expired
        case rejected
    }

    public enum Phase: Equatable, Sendable {
        case idle
        case requesting
        /// A code is shown; polls go out every `pollInterval`.
        case showing(code: String)
        case polling(code: String)
        /// Waiting before the next request (a failure's backoff, or `pause` after a code ended).
        case waiting
        case paired
    }

    public static let pollInterval: Millis = .seconds(3)
    /// Codes live 10 minutes (PROTOCOL.md 4.6); used when the server does not say.
    public static let defaultCodeLifetime: Millis = .seconds(600)

    public private(set) var phase: Phase = .idle
    public private(set) var lastCause: RetryCause? = nil
    /// The code being shown and when it stops being valid.
    public private(set) var code: String? = nil
    private var expiresAt: Instant? = nil
    private var pollAt: Instant? = nil
    private var waitUntil: Instant? = nil
    private var backoff: Backoff
    public let pause: Millis

    public init(retry: RetryPolicy = .api, pause: Millis = .seconds(1800)) {
        backoff = Backoff(policy: retry)
        self.pause = pause
    }

    /// When `timerFired` must run next.
    public var nextDeadline: Instant? {
        switch phase {
        case .showing: return earliest(pollAt, expiresAt)
        case .waiting: return waitUntil
        default: return nil
        }
    }

    public mutating func start(now: Instant) -> Action {
        phase = .requesting
        return .request
    }

    public mutating func timerFired<R: RandomNumberGenerator>(now: Instant, using rng: inout R) -> Action? {
        switch phase {
        case .showing(let c):
            if let e = expiresAt, now >= e { return codeEnded(.expired, now: now, using: &rng) }
            guard let p = pollAt, now >= p else { return nil }
            pollAt = nil
            phase = .polling(code: c)
            return .poll(code: c)
        case .waiting:
            guard let w = waitUntil, now >= w else { return nil }
            waitUntil = nil
            if let c = code, let e = expiresAt, now < e {
                phase = .polling(code: c)
                return .poll(code: c)
            }
            code = nil
            expiresAt = nil
            phase = .requesting
            return .request
        default:
            return nil
        }
    }

    public mutating func requestFinished<R: RandomNumberGenerator>(
        _ outcome: PairingOutcome, now: Instant, using rng: inout R
    ) -> Action? {
        guard phase == .requesting else { return nil }
        switch outcome {
        case .answer(let a):
            if let settled = settle(a, now: now, using: &rng) { return settled }
            guard let c = a.code, PairingFlow.isValidCode(c) else {
                return fail(.badResponse, nil, now: now, using: &rng)
            }
            let life = a.expiresInSeconds.map { Millis($0) * 1000 } ?? PairingFlow.defaultCodeLifetime
            code = c
            expiresAt = now + life
            pollAt = now + PairingFlow.pollInterval
            phase = .showing(code: c)
            return .show(code: c, expiresInSeconds: life / 1000)
        case .unknownCode:
            return fail(.refused(404), nil, now: now, using: &rng)
        case .retry(let cause, let after):
            return fail(cause, after, now: now, using: &rng)
        }
    }

    public mutating func pollFinished<R: RandomNumberGenerator>(
        _ outcome: PairingOutcome, now: Instant, using rng: inout R
    ) -> Action? {
        guard case .polling(let c) = phase else { return nil }
        switch outcome {
        case .answer(let a):
            if let settled = settle(a, now: now, using: &rng) { return settled }
            if let e = expiresAt, now >= e { return codeEnded(.expired, now: now, using: &rng) }
            pollAt = now + PairingFlow.pollInterval
            phase = .showing(code: c)
            return nil
        case .unknownCode:
            return codeEnded(.expired, now: now, using: &rng)
        case .retry(let cause, let after):
            return fail(cause, after, now: now, using: &rng)
        }
    }

    /// An answer resets the backoff; accepted and rejected end the code, pending returns nil.
    private mutating func settle<R: RandomNumberGenerator>(
        _ a: PairingAnswer, now: Instant, using rng: inout R
    ) -> Action? {
        backoff.reset()
        lastCause = nil
        switch a.status {
        case .accepted(let tenant):
            phase = .paired
            return .paired(tenant: tenant)
        case .rejected:
            return codeEnded(.rejected, now: now, using: &rng)
        case .pending:
            return nil
        }
    }

    /// Codes are short runs of A-Z and 2-9 (PROTOCOL.md 4.6); the code goes into a URL path,
    /// so nothing else is accepted from the server.
    public static func isValidCode(_ code: String) -> Bool {
        let b = code.utf8
        return !b.isEmpty && b.count <= 32
            && b.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    private mutating func fail<R: RandomNumberGenerator>(
        _ cause: RetryCause, _ retryAfter: Millis?, now: Instant, using rng: inout R
    ) -> Action? {
        lastCause = cause
        let wait = max(backoff.failed(retryAfter: retryAfter, using: &rng), PairingFlow.pollInterval)
        waitUntil = now + wait
        phase = .waiting
        return nil
    }

    private mutating func codeEnded<R: RandomNumberGenerator>(
        _ end: CodeEnd, now: Instant, using rng: inout R
    ) -> Action {
        code = nil
        expiresAt = nil
        pollAt = nil
        // ±20 % so that a batch of devices installed together does not come back together.
        let jitter = Millis.random(in: -(pause / 5)...(pause / 5), using: &rng)
        waitUntil = now + pause + jitter
        phase = .waiting
        return .codeEnded(end)
    }
}
