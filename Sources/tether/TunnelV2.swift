import CShims
import TetherAgent
import TetherPlatform
import TetherWire

/// The v2 transport (PROTOCOL.md 5.2): one WebSocket to `/agent/connection` carrying yamux,
/// driven by TetherAgent's `V2Tunnel` state machine; each accepted stream lands in a session
/// slot of the `TunnelCore`. Liveness comes from the server's own pings (dead-peer detection
/// by the keepalive scheduler); the agent pings only when the policy says the path needs it.
final class TunnelV2: TunnelConnection, TunnelCoreOwner {
    private var core: TunnelCore!
    private var machine: V2Tunnel
    static let tunnelID = 0
    /// The tunnel's send queue: every session's upstream bytes pass through it.
    static let queueBytes = 128 * 1024

    init(context: RuntimeContext, token: String, policy: KeepalivePolicy, sessions: SessionServer?,
         owner: TunnelOwner) {
        machine = V2Tunnel(sessionSlots: context.config.sessionSlots)
        super.init(context: context, owner: owner, label: "tunnel")
        core = TunnelCore(context: context, transport: .v2, label: "tunnel", sessions: sessions,
                          policy: policy, connections: 1, owner: self)
        dial("/agent/connection", token: token, queue: TunnelV2.queueBytes)
    }

    override func closing() { core.stop() }

    override func opened() {
        core.keepalive.open(TunnelV2.tunnelID, role: .v2Tunnel, now: ctx.now)
        core.rearmKeepalive()
    }

    // MARK: WebSocketLinkDelegate

    override func link(_ link: WebSocketLink, received bytes: [UInt8]) {
        heard()
        do {
            try machine.receive(bytes, now: ctx.now)
        } catch {
            fail(.yamuxError)
            return
        }
        process()
    }

    override func linkPinged(_ link: WebSocketLink) {
        core.keepalive.noteSent(TunnelV2.tunnelID, now: ctx.now)
    }

    override func linkPonged(_ link: WebSocketLink) { heard() }

    override func linkDrained(_ link: WebSocketLink) { core.resumeAll() }

    private func heard() {
        core.keepalive.noteReceived(TunnelV2.tunnelID, now: ctx.now)
    }

    // MARK: driving the state machine

    /// Performs the machine's actions, writes its queued yamux frames, re-arms its timer.
    private func process() {
        while !closed, let action = machine.nextAction() {
            perform(action)
        }
        flushOutput()
        core.armMachine(at: machine.nextDeadline)
    }

    private func flushOutput() {
        guard !closed, machine.hasOutput else { return }
        let out = machine.takeOutput()
        if link.send(out) {
            core.keepalive.noteSent(TunnelV2.tunnelID, now: ctx.now)
        }
    }

    private func perform(_ action: V2TunnelAction) {
        switch action {
        case .openSSH(let slot, let sessionID, let initial):
            if !core.openSSH(slot: slot, sessionID: sessionID, initial: initial) { machine.abort(slot) }
        case .closeSSH(let slot):
            core.closeSession(slot: slot, of: machine.slots)
            core.endSlot(slot)
            machine.localClosed(slot, now: ctx.now)
        case .proxy(let slot, let host, let port, let initial):
            core.startProxy(slot: slot, host: host, port: port, initial: initial)
        case .data(let slot, let bytes):
            if let p = core[slot] { p.deliver(bytes) } else { machine.consumed(slot, bytes.count) }
        case .remoteClosed(let slot):
            core[slot]?.remoteClosed()
        case .reset(let slot):
            core.endSlot(slot)
        case .canSend(let slot):
            core[slot]?.resume()
        case .refused(let stream, let reason):
            core.refused(reason, "stream " + String(stream))
        case .unknownSession(let id):
            core.unknownSession(id)
        case .serverPing:
            heard()
        case .goAway:
            ctx.log.info("server going away")
        }
    }

    // MARK: TunnelCoreOwner

    func proxyDialed(_ slot: Int, error: String?) {
        if let error { machine.proxyFailed(slot, message: error, now: ctx.now) } else { machine.proxyConnected(slot) }
        process()
    }

    func machineDeadline() {
        machine.timerFired(now: ctx.now)
        process()
    }

    func keepaliveFired(_ firing: KeepaliveFiring) {
        if !firing.dead.isEmpty {
            let policy = core.keepalive.policy
            fail(.noServerPing(seconds: Int64((policy.v2ServerPing + policy.deadPeerGrace) / 1000)))
            return
        }
        if !firing.pings.isEmpty {
            machine.ping()
            flushOutput()
        }
    }

    func timerTableFull() {
        if !closed { fail(.timerTableFull) }
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
        core.pumpEnded(slot, reason: reason)
        machine.localClosed(slot, now: ctx.now)
        process()
    }
}
