import TetherAgent
import TetherPlatform

/// What a transport hears from its `TunnelCore` (besides being its slots' pump owner).
protocol TunnelCoreOwner: FdPumpOwner {
    /// A proxied slot's dial finished; `error` is nil when it connected (its pump is in place).
    /// The transport tells its state machine, then processes.
    func proxyDialed(_ slot: Int, error: String?)
    /// The state machine's deadline came: `timerFired`, then process.
    func machineDeadline()
    /// Due pings and dead connections, all from this one wake-up. The core re-arms afterwards.
    func keepaliveFired(_ firing: KeepaliveFiring)
    /// A timer could not be armed: close what it would have guarded.
    func timerTableFull()
}

/// What the v1 and v2 transports share, so each keeps only what differs: the local ends of
/// its session slots (an SSH socketpair's `FdPump`, a proxy's `ProxyDial` and then its
/// socket), refusals logged without flooding, the keepalive scheduler with its one timer
/// (all due pings coalesced into one wake-up), and the state machine's deadline timer.
final class TunnelCore {
    let ctx: RuntimeContext
    private let sessions: SessionServer?
    private unowned(unsafe) let owner: TunnelCoreOwner
    private let transport: TransportVersion
    /// Names the timers in the line logged when one cannot be armed.
    private let label: String
    private var pumps: [FdPump?]
    private var proxies: [ProxyDial?]
    /// Refusals and failed proxy dials, logged without flooding (see BurstLog).
    private var refusals = BurstLog()
    var keepalive: KeepaliveScheduler
    private var keepaliveTimer = TimerToken.none
    private var machineTimer = TimerToken.none
    private var stopped = false

    /// `connections`: how many connections the keepalive scheduler watches.
    init(context: RuntimeContext, transport: TransportVersion, label: String, sessions: SessionServer?,
         policy: KeepalivePolicy, connections: Int, owner: TunnelCoreOwner) {
        ctx = context
        self.transport = transport
        self.label = label
        self.sessions = sessions
        self.owner = owner
        let slots = context.config.sessionSlots
        pumps = [FdPump?](repeating: nil, count: slots)
        proxies = [ProxyDial?](repeating: nil, count: slots)
        keepalive = KeepaliveScheduler(policy: policy, capacity: connections, using: &context.rng)
    }

    /// The slot's local end, once it has one.
    subscript(slot: Int) -> FdPump? { pumps[slot] }

    // MARK: slots

    /// Starts the SSH server session of `slot`; false (logged) when it cannot.
    func openSSH(slot: Int, sessionID: String, initial: [UInt8]) -> Bool {
        guard let pump = SlotStart.ssh(ctx, sessions: sessions, slot: slot, sessionID: sessionID,
                                       initial: initial, owner: owner)
        else { return false }
        pumps[slot] = pump
        return true
    }

    /// Dials host:port for `slot`; the result comes to `owner.proxyDialed` (a failure logged).
    func startProxy(slot: Int, host: String, port: UInt16, initial: [UInt8]) {
        proxies[slot] = ProxyDial(loop: ctx.loop, resolver: ctx.resolver, tag: slot, host: host,
                                  port: port, initial: initial, owner: owner) { [self] result in
            proxies[slot] = nil
            switch result {
            case .failure(let e):
                let target = host + ":" + String(port)
                ctx.warnBurst(&refusals, kind: "proxy " + target, "proxy to " + target + " failed: " + e.message)
                owner.proxyDialed(slot, error: e.message)
            case .success(let pump):
                pumps[slot] = pump
                owner.proxyDialed(slot, error: nil)
            }
        }
    }

    /// The server asked to close the SSH session in `slot` (its local end then finishes).
    func closeSession(slot: Int, of slots: SessionSlots) {
        guard slots.purpose(of: slot) == .ssh, let id = slots.sessionID(of: slot) else { return }
        sessions?.closeSession(sessionID: id)
    }

    /// Tears down the slot's local end without telling anyone; true when it had one.
    @discardableResult
    func endSlot(_ slot: Int) -> Bool {
        let had = pumps[slot] != nil || proxies[slot] != nil
        pumps[slot]?.terminate()
        pumps[slot] = nil
        proxies[slot]?.cancel()
        proxies[slot] = nil
        return had
    }

    /// The slot's pump ended by itself (its owner's `pumpEnded`): forgotten, one log line.
    func pumpEnded(_ slot: Int, reason: PumpEnd) {
        pumps[slot] = nil
        ctx.log.info("slot " + String(slot) + " closed: " + reason.text)
    }

    /// Every slot's pump may read again (the tunnel's send queue drained).
    func resumeAll() {
        for p in pumps { p?.resume() }
    }

    /// Tears every slot down and cancels both timers; nothing is armed again.
    func stop() {
        stopped = true
        ctx.loop.cancel(keepaliveTimer)
        ctx.loop.cancel(machineTimer)
        keepaliveTimer = .none
        machineTimer = .none
        for slot in pumps.indices { endSlot(slot) }
    }

    // MARK: log lines

    /// A refused stream or dial-back (`what` names it): one line; repeats of a `kind` within a
    /// minute are counted onto the next (`BurstLog`).
    func refused(_ reason: StreamRefusal, _ what: String, kind: String = "") {
        let why = reason.text(transport)
        ctx.warnBurst(&refusals, kind: kind + why, what + " refused: " + why)
    }

    func unknownSession(_ id: String) {
        ctx.log.info("close for unknown session " + String(id.prefix(12)))
    }

    // MARK: timers

    /// Arms the state machine's timer at `deadline` (none when nil), replacing the last one.
    func armMachine(at deadline: Instant?) {
        ctx.loop.cancel(machineTimer)
        machineTimer = .none
        guard !stopped, let deadline else { return }
        guard let t = ctx.schedule(at: deadline, for: label, { [self] in
            machineTimer = .none
            owner.machineDeadline()
        }) else { return owner.timerTableFull() }
        machineTimer = t
    }

    /// Arms the keepalive timer at the scheduler's next deadline, replacing the last one.
    func rearmKeepalive() {
        ctx.loop.cancel(keepaliveTimer)
        keepaliveTimer = .none
        guard !stopped, let d = keepalive.nextDeadline() else { return }
        guard let t = ctx.schedule(at: d, for: label + " keepalive", { [self] in
            keepaliveTimer = .none
            owner.keepaliveFired(keepalive.fire(now: ctx.now))
            rearmKeepalive()
        }) else { return owner.timerTableFull() }
        keepaliveTimer = t
    }
}
