/// Condenses the lifecycle into log lines: one when the phase or the failure cause changes,
/// none per retry, so an agent that is offline for a day writes a handful of lines, not
/// thousands (the Go agent's "Retry in 10 seconds" spam, PROTOCOL.md 12, PR #7060). Lines fit
/// an 80-column serial console.
public struct LifecycleReporter: Sendable {
    private var lastPhase: TunnelLifecycle.Phase = .idle
    /// Between a failure and the next "up": auth and dial attempts are not logged, and a
    /// failure is logged only when its cause differs from the one already reported.
    private var outageCause: RetryCause? = nil
    private var inOutage = false

    public init() {}

    /// The line to log after the lifecycle changed, or nil if nothing worth a line changed.
    public mutating func line(for l: TunnelLifecycle) -> String? {
        let phase = l.phase
        defer { lastPhase = phase }
        switch phase {
        case .idle:
            return nil
        case .authenticating:
            return lastPhase == .idle ? "auth: registering device" : nil
        case .dialing:
            return inOutage || lastPhase == .dialing ? nil : "tunnel: connecting"
        case .connected:
            inOutage = false
            return lastPhase == .connected ? nil : "tunnel: up"
        case .removed:
            return lastPhase == .removed ? nil : "auth: 401, device removed from its namespace; stopping"
        case .waiting:
            let cause = l.lastCause ?? .network
            if inOutage && cause == outageCause { return nil }
            inOutage = true
            outageCause = cause
            return "tunnel: down (\(Self.describe(cause))), retrying with backoff"
        }
    }

    static func describe(_ cause: RetryCause) -> String {
        switch cause {
        case .network: return "network"
        case .rateLimited: return "HTTP 429"
        case .serverError(let s): return "HTTP \(s)"
        case .refused(let s): return "HTTP \(s)"
        case .badResponse: return "bad auth answer"
        }
    }
}
