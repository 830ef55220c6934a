import CShims
import TetherAgent
import TetherPlatform
import TetherWire

/// The v1 transport (PROTOCOL.md 5.3, 6), whose sessions outlive the control connection:
/// `V1Service` lives as long as the agent and owns the dial-back WebSockets and their slots;
/// each `TunnelV1` is one control connection (`/ssh/connection`) that the runtime dials and
/// replaces. The keepalive scheduler watches every connection: the control link is pinged by
/// the server (dead after a missed ping plus grace); dial-backs are silent, so they get agent
/// pings only when idle longer than the middlebox allows, all due pings in one wake-up.
final class V1Service: TunnelCoreOwner {
    private let ctx: RuntimeContext
    private var core: TunnelCore!
    private var machine: V1Sessions
    private var links: [WebSocketLink?]
    private var linkPaths: [String]
    /// Per dial-back: the server has sent bytes of the session itself (past the request head).
    /// Before that, ShellHub's gateway does not read the dial-back (its SSH client starts only
    /// at the user's authentication, maybe minutes later), and gorilla answers a ping only
    /// while it reads: an unanswered ping then is no sign of a dead peer.
    private var peerSpoke: [Bool]
    unowned(unsafe) var control: TunnelV1?
    private var abandoning = false
    /// Queue size past which a dial-back stops being read until its local end drains.
    static let pauseAbove = 256 * 1024
    static let resumeBelow = 64 * 1024
    static let controlID = 0
    static let dialBackQueueBytes = 64 * 1024
    static let controlQueueBytes = 16 * 1024

    init(context: RuntimeContext, policy: KeepalivePolicy, sessions: SessionServer?) {
        ctx = context
        let slots = context.config.sessionSlots
        machine = V1Sessions(sessionSlots: slots)
        let conns = slots + V1Sessions.maxPendingDialBacks
        links = [WebSocketLink?](repeating: nil, count: conns)
        linkPaths = [String](repeating: "", count: conns)
        peerSpoke = [Bool](repeating: false, count: conns)
        core = TunnelCore(context: context, transport: .v1, label: "v1", sessions: sessions,
                          policy: policy, connections: 1 + conns, owner: self)
    }

    // MARK: control connection

    func controlOpened(_ tunnel: TunnelV1) {
        control = tunnel
        machine.controlReset()
        core.keepalive.open(V1Service.controlID, role: .v1Control, now: ctx.now)
        core.rearmKeepalive()
    }

    func controlReceived(_ bytes: [UInt8]) -> Bool {
        core.keepalive.noteReceived(V1Service.controlID, now: ctx.now)
        do {
            try machine.controlReceived(bytes, now: ctx.now)
        } catch {
            return false
        }
        process()
        return true
    }

    func controlPinged() {
        core.keepalive.noteReceived(V1Service.controlID, now: ctx.now)
        core.keepalive.noteSent(V1Service.controlID, now: ctx.now)
    }

    func controlClosed(_ tunnel: TunnelV1) {
        guard control === tunnel else { return }
        control = nil
        core.keepalive.close(V1Service.controlID)
    }

    // MARK: the state machine

    private func process() {
        while let action = machine.nextAction() { perform(action) }
        let out = machine.takeControlOutput()
        if !out.isEmpty, let control, control.send(out) {
            core.keepalive.noteSent(V1Service.controlID, now: ctx.now)
        }
        core.armMachine(at: machine.nextDeadline)
    }

    // MARK: TunnelCoreOwner

    /// A deadline that cannot be armed guards every v1 connection (dial-back waits, keepalive
    /// deaths): all of them are closed, the control link too, and the runtime dials afresh.
    func timerTableFull() {
        if abandoning { return }
        abandoning = true
        for conn in links.indices where links[conn] != nil { closeConnection(conn) }
        control?.abandon(.timerTableFull)
        abandoning = false
    }

    private func perform(_ action: V1Action) {
        switch action {
        case .dialBack(let path): dialBack(path)
        case .openSSH(let slot, let conn, let id, let initial):
            if !initial.isEmpty { peerSpoke[conn] = true }
            if !core.openSSH(slot: slot, sessionID: id, initial: initial) { closeConnection(conn) }
        case .closeSSH(let slot):
            core.closeSession(slot: slot, of: machine.slots)
            if let conn = machine.connection(of: slot) { closeConnection(conn) }
        case .proxy(let slot, let conn, let host, let port, let initial):
            peerSpoke[conn] = true
            core.startProxy(slot: slot, host: host, port: port, initial: initial)
        case .data(let slot, let bytes):
            guard let pipe = core[slot] else { return }
            if let conn = machine.connection(of: slot) { peerSpoke[conn] = true }
            pipe.deliver(bytes)
            if pipe.pendingOut > V1Service.pauseAbove, let conn = machine.connection(of: slot) {
                links[conn]?.setReadPaused(true)
            }
        case .write(let conn, let bytes):
            if links[conn]?.send(bytes) == true { core.keepalive.noteSent(1 + conn, now: ctx.now) }
        case .closeConnection(let conn):
            closeConnection(conn)
        case .refused(_, let reason):
            core.refused(reason, "dial-back")
        case .refusedDialBack(let reason):
            core.refused(reason, "conn-ready", kind: "conn-ready ")
        case .unknownSession(let id):
            core.unknownSession(id)
        }
    }

    private func freeConnection() -> Int? {
        links.firstIndex(where: { $0 == nil })
    }

    private func dialBack(_ path: String) {
        guard let conn = freeConnection() else {
            machine.dialBackFailed(connPath: path, error: "agent busy")
            return
        }
        let link = WebSocketLink(context: ctx, target: ctx.target(path), bearer: nil,
                                 label: "dial-back", queue: V1Service.dialBackQueueBytes, delegate: self)
        link.tag = conn
        links[conn] = link
        linkPaths[conn] = path
        link.start()
    }

    private func closeConnection(_ conn: Int) {
        guard let link = links[conn] else { return }
        link.close()
        connectionGone(conn)
    }

    /// Frees everything that rode on connection `conn`.
    private func connectionGone(_ conn: Int) {
        links[conn] = nil
        core.keepalive.close(1 + conn)
        if let slot = machine.dialBackClosed(conn: conn) {
            // Its socketpair end closes: the SSH session sees EOF and ends.
            // The server's end went first (a slot whose local end finished said so already).
            if core.endSlot(slot) { ctx.log.info("slot " + String(slot) + " closed: dial-back closed") }
        }
    }

    func proxyDialed(_ slot: Int, error: String?) {
        if let error { machine.proxyFailed(slot, message: error) } else { machine.proxyConnected(slot) }
        process()
    }

    func machineDeadline() {
        machine.timerFired(now: ctx.now)
        process()
    }

    // MARK: FdPumpOwner

    func pumpSendRoom(_ slot: Int) -> Int {
        guard let conn = machine.connection(of: slot), let link = links[conn] else { return 0 }
        return link.payloadCapacity
    }

    func pump(_ slot: Int, produced bytes: UnsafeRawBufferPointer) {
        guard let conn = machine.connection(of: slot), let link = links[conn] else { return }
        if link.send(Array(bytes)) { core.keepalive.noteSent(1 + conn, now: ctx.now) }
    }

    func pump(_ slot: Int, wrote count: Int) {
        guard let pipe = core[slot], pipe.pendingOut < V1Service.resumeBelow,
              let conn = machine.connection(of: slot) else { return }
        links[conn]?.setReadPaused(false)
    }

    func pumpEnded(_ slot: Int, reason: PumpEnd) {
        core.pumpEnded(slot, reason: reason)
        if let conn = machine.connection(of: slot) { closeConnection(conn) }
        process()
    }

    // MARK: keepalive

    func keepaliveFired(_ firing: KeepaliveFiring) {
        for id in firing.dead {
            if id == V1Service.controlID {
                control?.deadPeer()
            } else if links[id - 1] != nil && !peerSpoke[id - 1] {
                // Waiting for the gateway's SSH client (bounded by the login grace).
                core.keepalive.revive(id, now: ctx.now)
            } else if links[id - 1] != nil {
                ctx.log.info("dial-back " + String(id - 1) + ": peer silent, closing")
                closeConnection(id - 1)
            }
        }
        // All due pings go out in this one wake-up.
        for id in firing.pings {
            if id == V1Service.controlID { control?.ping() } else { links[id - 1]?.sendPing() }
        }
        process()
    }
}

extension V1Service: WebSocketLinkDelegate {
    func linkOpened(_ link: WebSocketLink) {
        let conn = link.tag
        core.keepalive.open(1 + conn, role: .v1DialBack, now: ctx.now)
        peerSpoke[conn] = false
        machine.dialBackConnected(connPath: linkPaths[conn], conn: conn, now: ctx.now)
        process()
        core.rearmKeepalive()
    }

    func link(_ link: WebSocketLink, received bytes: [UInt8]) {
        let conn = link.tag
        core.keepalive.noteReceived(1 + conn, now: ctx.now)
        machine.dialBackReceived(conn: conn, bytes)
        process()
    }

    func linkPinged(_ link: WebSocketLink) {
        core.keepalive.noteReceived(1 + link.tag, now: ctx.now)
    }

    func linkPonged(_ link: WebSocketLink) {
        core.keepalive.noteReceived(1 + link.tag, now: ctx.now)
    }

    func linkDrained(_ link: WebSocketLink) {
        if let slot = machine.slots.slot(for: .dialBack(link.tag)) { core[slot]?.resume() }
    }

    func linkRedirected(_ link: WebSocketLink, status: Int, to location: String) {
        // Every dial-back of a redirected server is: not worth a line each.
        ctx.log.debug("dial-back " + String(link.tag) + ": redirected (" + String(status) + ") to " + location)
    }

    func linkEnded(_ link: WebSocketLink, _ end: LinkEnd) {
        let conn = link.tag
        guard links[conn] === link else { return }
        if core.keepalive.isOpen(1 + conn) {
            connectionGone(conn)
        } else {
            links[conn] = nil
            machine.dialBackFailed(connPath: linkPaths[conn], error: end.text)
            ctx.log.warning("dial-back failed: " + end.text)
        }
        process()
    }
}
