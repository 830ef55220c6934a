import TetherAgent
import TetherPlatform
import TetherWire

/// A tunnel to the server (v2: one yamux WebSocket; v1: a control WebSocket plus dial-backs).
protocol Tunnel: AnyObject {
    /// Closes the tunnel and everything riding on it; no owner call follows.
    func close()
}

/// What a tunnel reports to the runtime.
protocol TunnelOwner: AnyObject {
    /// The upgrade succeeded: the device is online.
    func tunnelUp(_ tunnel: Tunnel)
    /// The tunnel is gone; `wasUp` tells a failed dial from a lost tunnel.
    func tunnelDown(_ tunnel: Tunnel, _ end: LinkEnd, wasUp: Bool)
}

/// The agent's top level: drives TetherAgent's `TunnelLifecycle` (authenticate, dial, stay up,
/// re-authenticate, back off with jitter) by performing its actions with real I/O, and logs one
/// line per change of state, not per retry.
final class Runtime: TunnelOwner {
    let ctx: RuntimeContext
    private var lifecycle: TunnelLifecycle
    private var timer = TimerToken.none
    private var auth: DeviceAuthCall?
    private var tunnel: Tunnel?
    private let makeTunnel: (RuntimeContext, String, TunnelOwner) -> Tunnel
    private var lastLogged: (TunnelLifecycle.Phase, RetryCause?, String)? = nil
    /// The detail of the last failure (TLS error text, refused status), for the log line.
    private var lastFailure = ""
    /// Set when the agent must stop for good (device removed); the process exit status.
    private(set) var exitStatus: Int32? = nil

    init(context: RuntimeContext, policy: AgentPolicy,
         makeTunnel: @escaping (RuntimeContext, String, TunnelOwner) -> Tunnel) {
        ctx = context
        lifecycle = policy.makeLifecycle()
        self.makeTunnel = makeTunnel
    }

    func start() {
        perform(lifecycle.start(now: ctx.now))
    }

    /// Stops everything (SIGTERM): no more timers, connections closed.
    func shutdown() {
        ctx.loop.cancel(timer)
        auth?.cancel()
        auth = nil
        tunnel?.close()
        tunnel = nil
    }

    private func perform(_ action: TunnelLifecycle.Action?) {
        if let action {
            switch action {
            case .authenticate: authenticate()
            case .dial(let token): dial(token)
            case .deviceRemoved:
                ctx.log.error("device removed from its namespace (401): stopping")
                shutdown()
                exitStatus = 3
                ctx.loop.stop()
                return
            }
        }
        report()
        rearm()
    }

    private func rearm() {
        ctx.loop.cancel(timer)
        timer = .none
        guard let deadline = lifecycle.nextDeadline else { return }
        timer = ctx.schedule(at: deadline) { [self] in
            self.timer = .none
            self.perform(self.lifecycle.timerFired(now: self.ctx.now))
        }
    }

    /// One log line per change of state (online, or offline with its cause), not per retry:
    /// an outage of hours writes one line, however often the agent retries.
    private func report() {
        let phase = lifecycle.phase
        let cause = lifecycle.lastCause
        guard phase == .connected || phase == .waiting else { return }
        let detail = phase == .waiting ? lastFailure : ""
        if let last = lastLogged, last.0 == phase, last.1 == cause, last.2 == detail { return }
        lastLogged = (phase, cause, detail)
        if phase == .connected {
            ctx.log.info("online: \(ctx.namespace).\(ctx.deviceName) via \(ctx.config.transport == .v2 ? "v2" : "v1")")
        } else {
            let wait = lifecycle.nextDeadline.map { ($0 - ctx.now) / 1000 } ?? 0
            let why = detail.isEmpty ? Runtime.describe(cause) : detail
            ctx.log.warning("offline: \(why); retrying (next in \(wait) s)")
        }
    }

    static func describe(_ cause: RetryCause?) -> String {
        switch cause {
        case nil: return "disconnected"
        case .network: return "network error"
        case .rateLimited: return "rate limited (429)"
        case .serverError(let s): return "server error \(s)"
        case .refused(let s): return "refused (\(s))"
        case .badResponse: return "bad answer from server"
        }
    }

    // MARK: actions

    private func authenticate() {
        let id = ctx.identity
        let request = DeviceAuthRequest(
            info: id.info, hostname: id.hostname, mac: id.mac, publicKey: id.publicKeyPEM,
            tenantID: ctx.config.tenantID, installKey: ctx.config.installKey)
        auth?.cancel()
        auth = DeviceAuthCall(context: ctx, request: request) { [self] verdict, response, failure in
            self.auth = nil
            self.lastFailure = failure.map { "auth: " + $0 } ?? ""
            if let r = response {
                if r.name != self.ctx.deviceName || r.status != nil {
                    self.ctx.log.info("auth ok: \(r.name) in \(r.namespace)\(r.status.map { " (" + $0 + ")" } ?? "")")
                }
                self.ctx.deviceName = r.name
                self.ctx.token = r.token
                self.ctx.deviceUID = r.uid
                self.ctx.namespace = r.namespace
            }
            self.perform(self.lifecycle.authFinished(verdict, now: self.ctx.now, using: &self.ctx.rng))
        }
    }

    private func dial(_ token: String) {
        tunnel?.close()
        tunnel = makeTunnel(ctx, token, self)
    }

    // MARK: TunnelOwner

    func tunnelUp(_ tunnel: Tunnel) {
        guard tunnel === self.tunnel else { return }
        perform(lifecycle.dialFinished(.connected, now: ctx.now, using: &ctx.rng))
    }

    func tunnelDown(_ tunnel: Tunnel, _ end: LinkEnd, wasUp: Bool) {
        guard tunnel === self.tunnel else { return }
        self.tunnel = nil
        if wasUp {
            ctx.log.warning("tunnel lost: \(end.text)")
            lifecycle.tunnelLost(now: ctx.now, using: &ctx.rng)
            perform(nil)
        } else {
            lastFailure = "tunnel: " + end.text
            let outcome: TunnelLifecycle.DialOutcome = end == .refused(status: 401) ? .unauthorized : .failed
            perform(lifecycle.dialFinished(outcome, now: ctx.now, using: &ctx.rng))
        }
    }
}
