import CShims
import TetherAgent
import TetherPlatform
import TetherWire

/// Starts the SSH server side of a session on a local fd (one end of a socketpair); returns
/// false when it cannot. The runtime owns the other end through an `FdPump`.
protocol SessionServer: AnyObject {
    func startSession(fd: Int32, sessionID: String) -> Bool
    /// The server asked to close the session: end it (its fd then reaches EOF).
    func closeSession(sessionID: String)
}

/// The v2 transport (PROTOCOL.md 5.2): one WebSocket to `/agent/connection` carrying yamux,
/// driven by TetherAgent's `V2Tunnel` state machine; each accepted stream lands in a session
/// slot whose local end is an `FdPump` (SSH via a socketpair, or a proxied TCP socket).
/// Liveness comes from the server's own pings (dead-peer detection by the keepalive
/// scheduler); the agent pings only when the policy says the path needs it.
final class TunnelV2: Tunnel, WebSocketLinkDelegate, FdPumpOwner {
    private let ctx: RuntimeContext
    private unowned(unsafe) let owner: TunnelOwner
    private let sessions: SessionServer?
    private var link: WebSocketLink!
    private var machine: V2Tunnel
    private var pipes: [FdPump?]
    private var proxies: [ProxyDial?]
    /// Refusals and failed proxy dials, logged without flooding (see BurstLog).
    private var refusals = BurstLog()
    private var keepalive: KeepaliveScheduler
    private var keepaliveTimer = TimerToken.none
    private var machineTimer = TimerToken.none
    private var up = false
    private var closed = false
    static let tunnelID = 0
    /// The tunnel's send queue: every session's upstream bytes pass through it.
    static let queueBytes = 128 * 1024

    init(context: RuntimeContext, token: String, policy: KeepalivePolicy, sessions: SessionServer?,
         owner: TunnelOwner) {
        ctx = context
        self.owner = owner
        self.sessions = sessions
        let slots = context.config.sessionSlots
        machine = V2Tunnel(sessionSlots: slots)
        pipes = [FdPump?](repeating: nil, count: slots)
        proxies = [ProxyDial?](repeating: nil, count: slots)
        keepalive = KeepaliveScheduler(policy: policy, capacity: 1, using: &context.rng)
        link = WebSocketLink(context: context, target: context.target("/agent/connection"),
                             bearer: token, label: "tunnel", queue: TunnelV2.queueBytes, delegate: self)
        link.start()
    }

    func close() {
        guard !closed else { return }
        closed = true
        ctx.loop.cancel(keepaliveTimer)
        ctx.loop.cancel(machineTimer)
        for i in pipes.indices {
            pipes[i]?.terminate()
            pipes[i] = nil
            proxies[i]?.cancel()
            proxies[i] = nil
        }
        link.close()
    }

    private func fail(_ end: LinkEnd) {
        let wasUp = up
        close()
        owner.tunnelDown(self, end, wasUp: wasUp)
    }

    // MARK: WebSocketLinkDelegate

    func linkOpened(_ link: WebSocketLink) {
        up = true
        keepalive.open(TunnelV2.tunnelID, role: .v2Tunnel, now: ctx.now)
        rearmKeepalive()
        owner.tunnelUp(self)
    }

    func link(_ link: WebSocketLink, received bytes: [UInt8]) {
        keepalive.noteReceived(TunnelV2.tunnelID, now: ctx.now)
        do {
            try machine.receive(bytes, now: ctx.now)
        } catch {
            fail(.failed("yamux protocol error"))
            return
        }
        process()
    }

    func linkPinged(_ link: WebSocketLink) {
        keepalive.noteSent(TunnelV2.tunnelID, now: ctx.now)
    }

    func linkPonged(_ link: WebSocketLink) {
        keepalive.noteReceived(TunnelV2.tunnelID, now: ctx.now)
    }

    func linkDrained(_ link: WebSocketLink) {
        for p in pipes { p?.resume() }
    }

    func linkRedirected(_ link: WebSocketLink, status: Int, to location: String) {
        ctx.log.info("tunnel: redirected (" + String(status) + ") to " + location)
    }

    func linkEnded(_ link: WebSocketLink, _ end: LinkEnd) {
        fail(end)
    }

    // MARK: driving the state machine

    /// Writes queued yamux frames, performs the machine's actions, re-arms its timer.
    private func process() {
        while !closed, let action = machine.nextAction() {
            perform(action)
        }
        flushOutput()
        guard !closed else { return }
        ctx.loop.cancel(machineTimer)
        machineTimer = .none
        if let d = machine.nextDeadline {
            guard let t = ctx.schedule(at: d, for: "tunnel", { [self] in
                machineTimer = .none
                machine.timerFired(now: ctx.now)
                process()
            }) else { return fail(.failed("timer table full")) }
            machineTimer = t
        }
    }

    private func flushOutput() {
        guard !closed, machine.hasOutput else { return }
        let out = machine.takeOutput()
        if link.send(out) {
            keepalive.noteSent(TunnelV2.tunnelID, now: ctx.now)
        }
    }

    private func perform(_ action: V2TunnelAction) {
        switch action {
        case .openSSH(let slot, let sessionID, let initial):
            openSSH(slot: slot, sessionID: sessionID, initial: initial)
        case .closeSSH(let slot):
            if let id = machine.slots.sessionID(of: slot) { sessions?.closeSession(sessionID: id) }
            pipes[slot]?.terminate()
            pipes[slot] = nil
            machine.localClosed(slot, now: ctx.now)
        case .proxy(let slot, let host, let port, let initial):
            startProxy(slot: slot, host: host, port: port, initial: initial)
        case .data(let slot, let bytes):
            if let p = pipes[slot] { p.deliver(bytes) } else { machine.consumed(slot, bytes.count) }
        case .remoteClosed(let slot):
            pipes[slot]?.remoteClosed()
        case .reset(let slot):
            pipes[slot]?.terminate()
            pipes[slot] = nil
            proxies[slot]?.cancel()
            proxies[slot] = nil
        case .canSend(let slot):
            pipes[slot]?.resume()
        case .refused(let stream, let reason):
            let why = TunnelV2.describe(reason)
            ctx.warnBurst(&refusals, kind: why, "stream " + String(stream) + " refused: " + why)
        case .unknownSession(let id):
            ctx.log.info("close for unknown session " + String(id.prefix(12)))
        case .serverPing:
            keepalive.noteReceived(TunnelV2.tunnelID, now: ctx.now)
        case .goAway:
            ctx.log.info("server going away")
        }
    }

    static func describe(_ r: StreamRefusal) -> String {
        switch r {
        case .slotsFull: return "all session slots busy"
        case .tooManyNegotiating: return "too many streams negotiating"
        case .negotiationFailed: return "multistream negotiation failed"
        case .negotiationTimeout: return "negotiation timed out"
        case .badHeader: return "bad header line"
        case .tooManyStreams: return "stream limit reached"
        case .closeTimeout: return "not closed by the server in time"
        }
    }

    private func openSSH(slot: Int, sessionID: String, initial: [UInt8]) {
        guard let pipe = SlotStart.ssh(ctx, sessions: sessions, slot: slot, sessionID: sessionID,
                                       initial: initial, owner: self)
        else {
            machine.abort(slot)
            return
        }
        pipes[slot] = pipe
    }

    private func startProxy(slot: Int, host: String, port: UInt16, initial: [UInt8]) {
        proxies[slot] = ProxyDial(loop: ctx.loop, resolver: ctx.resolver, tag: slot, host: host,
                                  port: port, initial: initial, owner: self) { [self] result in
            proxies[slot] = nil
            switch result {
            case .failure(let e):
                ctx.warnBurst(&refusals, kind: "proxy " + host + ":" + String(port), "proxy to " + host + ":" + String(port) + " failed: " + e.message)
                machine.proxyFailed(slot, message: e.message, now: ctx.now)
            case .success(let pipe):
                pipes[slot] = pipe
                machine.proxyConnected(slot)
            }
            process()
        }
    }

    // MARK: FdPumpOwner

    func pumpSendRoom(_ slot: Int) -> Int {
        // Bounded by the stream's window and by the tunnel's send queue.
        min(machine.sendWindow(slot), link.payloadCapacity)
    }

    func pump(_ slot: Int, produced bytes: UnsafeRawBufferPointer) {
        _ = machine.send(slot, bytes)
        flushOutput()
    }

    func pump(_ slot: Int, wrote count: Int) {
        machine.consumed(slot, count)
        flushOutput()
    }

    func pumpEnded(_ slot: Int, reason: PumpEnd) {
        pipes[slot] = nil
        ctx.log.info("slot " + String(slot) + " closed: " + reason.text)
        machine.localClosed(slot, now: ctx.now)
        process()
    }

    // MARK: keepalive

    private func rearmKeepalive() {
        ctx.loop.cancel(keepaliveTimer)
        keepaliveTimer = .none
        guard !closed, let d = keepalive.nextDeadline() else { return }
        guard let t = ctx.schedule(at: d, for: "tunnel keepalive", { [self] in
            keepaliveTimer = .none
            let firing = keepalive.fire(now: ctx.now)
            if !firing.dead.isEmpty {
                fail(.failed("no ping from server for " + String(keepalive.policy.v2ServerPing / 1000 + keepalive.policy.deadPeerGrace / 1000) + " s"))
                return
            }
            if !firing.pings.isEmpty {
                machine.ping()
                flushOutput()
            }
            rearmKeepalive()
        }) else { return fail(.failed("timer table full")) }
        keepaliveTimer = t
    }
}
