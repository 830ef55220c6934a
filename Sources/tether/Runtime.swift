import TetherAgent
import TetherPlatform
import TetherWire

/// The agent's top level: drives TetherAgent's `TunnelLifecycle` (authenticate, dial, stay up,
/// re-authenticate, back off with jitter) by performing its actions with real I/O, and logs one
/// line per change of state, not per retry.
final class Runtime: TunnelOwner {
    let ctx: RuntimeContext
    private let policy: AgentPolicy
    private var lifecycle: TunnelLifecycle
    private var timer = TimerToken.none
    /// A learned tenant that `<key>.tenant` did not take yet: saved again with backoff.
    private var tenantSaveTimer = TimerToken.none
    private var tenantSaveDelayMs: UInt64 = 1000
    private var auth: DeviceAuthFlow?
    /// Tenant-less start: pairing runs first (PROTOCOL.md 4.6), then the lifecycle.
    private var pairing: PairingFlow?
    private var pairingCall: PairingCall?
    private var pairingCause: RetryCause?
    /// The last pairing request's failure below HTTP (DNS, TCP, TLS), for its log line.
    private var pairingFailure: String?
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
        self.policy = policy
        lifecycle = policy.makeLifecycle()
        self.makeTunnel = makeTunnel
    }

    func start() {
        // A provisioning key needs no tenant: the server resolves it from the key.
        if ctx.tenantSource == .none && ctx.config.provisioningKey.isEmpty {
            startPairing()
        } else {
            perform(lifecycle.start(now: ctx.now))
        }
    }

    /// Stops everything (SIGTERM): no more timers, connections closed.
    func shutdown() {
        ctx.loop.cancel(timer)
        ctx.loop.cancel(tenantSaveTimer)
        tenantSaveTimer = .none
        auth?.cancel()
        auth = nil
        pairingCall?.cancel()
        pairingCall = nil
        tunnel?.close()
        tunnel = nil
    }

    private func perform(_ action: TunnelLifecycle.Action?) {
        if let action {
            switch action {
            case .authenticate: authenticate()
            case .dial(let token): dial(token)
            case .deviceRemoved where ctx.tenantSource == .pairing:
                // A paired device forgets the tenant and pairs again (PROTOCOL.md 11).
                ctx.log.error("device removed from its namespace (401): forgetting the saved tenant, enrolling again")
                shutdown()
                if !Files.remove(ctx.tenantFilePath) {
                    ctx.log.warning("tenant: cannot remove " + ctx.tenantFilePath)
                }
                ctx.tenant = ""
                ctx.tenantSource = .none
                lifecycle = policy.makeLifecycle()
                start()
                return
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
        if pairing != nil {
            guard let deadline = pairing?.nextDeadline else { return }
            guard let t = ctx.schedule(at: deadline, for: "pairing", { [self] in
                self.timer = .none
                self.performPairing(self.pairing?.timerFired(now: self.ctx.now, using: &self.ctx.rng))
            }) else { return lifecycleStalled() }
            timer = t
            return
        }
        guard let deadline = lifecycle.nextDeadline else { return }
        guard let t = ctx.schedule(at: deadline, for: "agent", { [self] in
            self.timer = .none
            self.perform(self.lifecycle.timerFired(now: self.ctx.now))
        }) else { return lifecycleStalled() }
        timer = t
    }

    /// Without its next deadline the agent would never dial, retry or re-authenticate again:
    /// it exits instead (status 1, the reason logged by `schedule`), for its supervisor to
    /// restart it, rather than sit wedged.
    private func lifecycleStalled() {
        exitStatus = 1
        ctx.loop.stop()
    }

    // MARK: pairing

    private func startPairing() {
        var flow = PairingFlow()
        let first = flow.start(now: ctx.now)
        pairing = flow
        pairingCause = nil
        ctx.log.info("no tenant: pairing with " + ctx.config.server.text)
        performPairing(first)
    }

    private func performPairing(_ action: PairingFlow.Action?) {
        guard pairing != nil else { return }
        switch action {
        case .request?:
            let id = ctx.identity
            let body = PairingRequest(info: id.info, hostname: id.hostname, mac: id.mac,
                                      publicKey: id.publicKeyPEM, code: ctx.config.pairingCode)
            send(.create(body)) { r, o in r.pairing?.requestFinished(o, now: r.ctx.now, using: &r.ctx.rng) }
        case .poll(let code)?:
            send(.status(code: code)) { r, o in r.pairing?.pollFinished(o, now: r.ctx.now, using: &r.ctx.rng) }
        case .show(let code, let seconds)?:
            ctx.log.info("pairing code " + PairingAnswer.display(code) + ", valid " + String(seconds / 60) + " min: accept it at")
            ctx.log.info("  " + ctx.config.server.text + "/accept-device?code=" + code)
        case .codeEnded(let end)?:
            let wait = pairing?.nextDeadline.map { ($0 - ctx.now) / 60_000 } ?? 0
            ctx.log.warning("pairing code " + (end == .expired ? "expired" : "rejected") + "; next code in " + String(wait) + " min (or restart)")
        case .paired(let tenant)?:
            pairing = nil
            pairingCall = nil
            adoptTenant(tenant, how: "paired")
            perform(lifecycle.start(now: ctx.now))
            return
        case nil:
            break
        }
        if let cause = pairing?.lastCause, cause != pairingCause {
            ctx.log.warning("pairing: " + (pairingFailure ?? Runtime.describe(cause)) + "; retrying")
        }
        pairingCause = pairing?.lastCause
        rearm()
    }

    /// A tenant learned from the server (pairing, or a provisioning key's answer): used from
    /// now on and kept in `<key>.tenant` (0600) for the next start. When the file cannot be
    /// written (a full or read-only flash), the agent goes on with the tenant, says so once,
    /// and tries again (1 s doubling to 60 s): a device that forgot it would pair again after
    /// its next restart.
    private func adoptTenant(_ tenant: String, how: String) {
        ctx.tenant = tenant
        ctx.tenantSource = .pairing
        ctx.loop.cancel(tenantSaveTimer)
        tenantSaveTimer = .none
        if let failure = saveTenant() {
            ctx.log.warning(how + ": tenant " + tenant + ", not saved yet (retrying): " + failure)
            tenantSaveDelayMs = 1000
            retryTenantSave()
        } else {
            ctx.log.info(how + ": tenant " + tenant + " (saved in " + ctx.tenantFilePath + ")")
        }
    }

    /// Writes `<key>.tenant`; nil when done, else why not.
    private func saveTenant() -> String? {
        do {
            try Files.writeAtomically(ctx.tenantFilePath, TenantFile.encode(ctx.tenant), mode: 0o600)
            return nil
        } catch {
            return error.message
        }
    }

    private func retryTenantSave() {
        do {
            tenantSaveTimer = try ctx.loop.schedule(afterMilliseconds: tenantSaveDelayMs) { [self] in
                tenantSaveTimer = .none
                if saveTenant() == nil {
                    ctx.log.info("tenant saved at last: " + ctx.tenantFilePath)
                } else {
                    tenantSaveDelayMs = min(tenantSaveDelayMs * 2, 60_000)
                    retryTenantSave()
                }
            }
        } catch {
            ctx.log.warning("tenant: no timer left to retry saving it")
        }
    }

    private func send(_ request: PairingExchange.Request,
                      _ report: @escaping (Runtime, PairingOutcome) -> PairingFlow.Action?) {
        pairingCall?.cancel()
        pairingCall = PairingCall(context: ctx, request: request) { [self] outcome, failure in
            self.pairingCall = nil
            self.pairingFailure = failure
            self.performPairing(report(self, outcome))
        }
        pairingCall?.start()
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
            ctx.log.info("online: " + ctx.namespace + "." + ctx.deviceName + " via " + (ctx.config.transport == .v2 ? "v2" : "v1"))
        } else {
            let wait = lifecycle.nextDeadline.map { ($0 - ctx.now) / 1000 } ?? 0
            let why = detail.isEmpty ? Runtime.describe(cause) : detail
            ctx.log.warning("offline: " + why + "; retrying (next in " + String(wait) + " s)")
        }
    }

    static func describe(_ cause: RetryCause?) -> String {
        switch cause {
        case nil: return "disconnected"
        case .network: return "network error"
        case .rateLimited: return "rate limited (429)"
        case .serverError(let s): return "server error " + String(s)
        case .refused(let s): return "refused (" + String(s) + ")"
        case .badResponse: return "bad answer from server"
        }
    }

    // MARK: actions

    private func authenticate() {
        auth?.cancel()
        auth = DeviceAuthFlow(context: ctx) { [self] verdict, response, failure in
            self.auth = nil
            self.lastFailure = failure.map { "auth: " + $0 } ?? ""
            if let r = response {
                if let s = r.status { self.lifecycle.devicePending = s == "pending" }
                if let t = r.tenantID, !t.isEmpty, self.ctx.tenantSource == .none {
                    self.adoptTenant(t, how: "provisioned")
                }
                if r.name != self.ctx.deviceName || r.status != nil {
                    self.ctx.log.info("auth ok: " + r.name + " in " + r.namespace + (r.status.map { " (" + $0 + ")" } ?? ""))
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

    func tunnelDown(_ tunnel: Tunnel, _ end: TunnelEnd, wasUp: Bool) {
        guard tunnel === self.tunnel else { return }
        self.tunnel = nil
        if wasUp {
            ctx.log.warning("tunnel lost: " + end.text)
            lifecycle.tunnelLost(now: ctx.now, using: &ctx.rng)
            perform(nil)
        } else {
            lastFailure = "tunnel: " + end.text
            let outcome: TunnelLifecycle.DialOutcome = end == .link(.refused(status: 401)) ? .unauthorized : .failed
            perform(lifecycle.dialFinished(outcome, now: ctx.now, using: &ctx.rng))
        }
    }
}
