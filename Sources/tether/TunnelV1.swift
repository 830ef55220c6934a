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
final class V1Service: FdPumpOwner {
    private let ctx: RuntimeContext
    private let sessions: SessionServer?
    private var machine: V1Sessions
    private var links: [WebSocketLink?]
    private var linkPaths: [String]
    private var pipes: [FdPump?]
    private var proxies: [ProxyDial?]
    /// Per dial-back: the server has sent bytes of the session itself (past the request head).
    /// Before that, ShellHub's gateway does not read the dial-back (its SSH client starts only
    /// at the user's authentication, maybe minutes later), and gorilla answers a ping only
    /// while it reads: an unanswered ping then is no sign of a dead peer.
    private var peerSpoke: [Bool]
    /// Refusals and failed proxy dials, logged without flooding (see BurstLog).
    private var refusals = BurstLog()
    private var keepalive: KeepaliveScheduler
    private var keepaliveTimer = TimerToken.none
    private var machineTimer = TimerToken.none
    fileprivate unowned(unsafe) var control: TunnelV1?
    private var abandoning = false
    /// Queue size past which a dial-back stops being read until its local end drains.
    static let pauseAbove = 256 * 1024
    static let resumeBelow = 64 * 1024
    static let controlID = 0
    static let dialBackQueueBytes = 64 * 1024
    static let controlQueueBytes = 16 * 1024

    init(context: RuntimeContext, policy: KeepalivePolicy, sessions: SessionServer?) {
        ctx = context
        self.sessions = sessions
        let slots = context.config.sessionSlots
        machine = V1Sessions(sessionSlots: slots)
        let conns = slots + V1Sessions.maxPendingDialBacks
        links = [WebSocketLink?](repeating: nil, count: conns)
        linkPaths = [String](repeating: "", count: conns)
        peerSpoke = [Bool](repeating: false, count: conns)
        pipes = [FdPump?](repeating: nil, count: slots)
        proxies = [ProxyDial?](repeating: nil, count: slots)
        keepalive = KeepaliveScheduler(policy: policy, capacity: 1 + conns, using: &context.rng)
    }

    // MARK: control connection

    fileprivate func controlOpened(_ tunnel: TunnelV1) {
        control = tunnel
        machine.controlReset()
        keepalive.open(V1Service.controlID, role: .v1Control, now: ctx.now)
        rearmKeepalive()
    }

    fileprivate func controlReceived(_ bytes: [UInt8]) -> Bool {
        keepalive.noteReceived(V1Service.controlID, now: ctx.now)
        do {
            try machine.controlReceived(bytes, now: ctx.now)
        } catch {
            return false
        }
        process()
        return true
    }

    fileprivate func controlPinged() {
        keepalive.noteReceived(V1Service.controlID, now: ctx.now)
        keepalive.noteSent(V1Service.controlID, now: ctx.now)
    }

    fileprivate func controlClosed(_ tunnel: TunnelV1) {
        guard control === tunnel else { return }
        control = nil
        keepalive.close(V1Service.controlID)
    }

    // MARK: the state machine

    private func process() {
        while let action = machine.nextAction() { perform(action) }
        let out = machine.takeControlOutput()
        if !out.isEmpty, let control, control.send(out) {
            keepalive.noteSent(V1Service.controlID, now: ctx.now)
        }
        ctx.loop.cancel(machineTimer)
        machineTimer = .none
        if let d = machine.nextDeadline {
            guard let t = ctx.schedule(at: d, for: "v1 sessions", { [self] in
                machineTimer = .none
                machine.timerFired(now: ctx.now)
                process()
            }) else { return timersFull() }
            machineTimer = t
        }
    }

    /// A deadline that cannot be armed guards every v1 connection (dial-back waits, keepalive
    /// deaths): all of them are closed, the control link too, and the runtime dials afresh.
    private func timersFull() {
        if abandoning { return }
        abandoning = true
        for conn in links.indices where links[conn] != nil { closeConnection(conn) }
        control?.abandon("timer table full")
        abandoning = false
    }

    private func perform(_ action: V1Action) {
        switch action {
        case .dialBack(let path): dialBack(path)
        case .openSSH(let slot, let conn, let id, let initial):
            if !initial.isEmpty { peerSpoke[conn] = true }
            openSSH(slot: slot, conn: conn, sessionID: id, initial: initial)
        case .closeSSH(let slot):
            if let id = machine.slots.sessionID(of: slot) { sessions?.closeSession(sessionID: id) }
            if let conn = machine.connection(of: slot) { closeConnection(conn) }
        case .proxy(let slot, let conn, let host, let port, let initial):
            peerSpoke[conn] = true
            startProxy(slot: slot, host: host, port: port, initial: initial)
        case .data(let slot, let bytes):
            guard let pipe = pipes[slot] else { return }
            if let conn = machine.connection(of: slot) { peerSpoke[conn] = true }
            pipe.deliver(bytes)
            if pipe.pendingOut > V1Service.pauseAbove, let conn = machine.connection(of: slot) {
                links[conn]?.setReadPaused(true)
            }
        case .write(let conn, let bytes):
            if links[conn]?.send(bytes) == true { keepalive.noteSent(1 + conn, now: ctx.now) }
        case .closeConnection(let conn):
            closeConnection(conn)
        case .refused(_, let reason):
            let why = V1Service.describe(reason)
            ctx.warnBurst(&refusals, kind: why, "dial-back refused: " + why)
        case .refusedDialBack(let reason):
            let why = V1Service.describe(reason)
            ctx.warnBurst(&refusals, kind: "conn-ready " + why, "conn-ready refused: " + why)
        case .unknownSession(let id):
            ctx.log.info("close for unknown session " + String(id.prefix(12)))
        }
    }

    /// A refusal as v1 sees it (dial-backs and conn-ready messages, not streams).
    static func describe(_ r: StreamRefusal) -> String {
        switch r {
        case .slotsFull: return "all session slots busy"
        case .tooManyNegotiating: return "too many dial-backs pending"
        case .negotiationFailed: return "request head unreadable"
        case .negotiationTimeout: return "request head timed out"
        case .badHeader: return "not a dial-back request"
        // Yamux's own (v2 only); named here as v2 names them.
        case .tooManyStreams: return "stream limit reached"
        case .closeTimeout: return "not closed by the server in time"
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
        keepalive.close(1 + conn)
        if let slot = machine.dialBackClosed(conn: conn) {
            // The server's end went first (a slot whose local end finished said so already).
            if pipes[slot] != nil || proxies[slot] != nil { ctx.log.info("slot " + String(slot) + " closed: dial-back closed") }
            if let id = machine.slots.sessionID(of: slot) { sessions?.closeSession(sessionID: id) }
            pipes[slot]?.terminate()
            pipes[slot] = nil
            proxies[slot]?.cancel()
            proxies[slot] = nil
        }
    }

    private func openSSH(slot: Int, conn: Int, sessionID: String, initial: [UInt8]) {
        guard let pipe = SlotStart.ssh(ctx, sessions: sessions, slot: slot, sessionID: sessionID,
                                       initial: initial, owner: self)
        else {
            closeConnection(conn)
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
                machine.proxyFailed(slot, message: e.message)
            case .success(let pipe):
                pipes[slot] = pipe
                machine.proxyConnected(slot)
            }
            process()
        }
    }

    // MARK: FdPumpOwner

    func pumpSendRoom(_ slot: Int) -> Int {
        guard let conn = machine.connection(of: slot), let link = links[conn] else { return 0 }
        return link.payloadCapacity
    }

    func pump(_ slot: Int, produced bytes: UnsafeRawBufferPointer) {
        guard let conn = machine.connection(of: slot), let link = links[conn] else { return }
        if link.send(Array(bytes)) { keepalive.noteSent(1 + conn, now: ctx.now) }
    }

    func pump(_ slot: Int, wrote count: Int) {
        guard let pipe = pipes[slot], pipe.pendingOut < V1Service.resumeBelow,
              let conn = machine.connection(of: slot) else { return }
        links[conn]?.setReadPaused(false)
    }

    func pumpEnded(_ slot: Int, reason: PumpEnd) {
        pipes[slot] = nil
        ctx.log.info("slot " + String(slot) + " closed: " + reason.text)
        if let conn = machine.connection(of: slot) { closeConnection(conn) }
        process()
    }

    // MARK: keepalive

    private func rearmKeepalive() {
        ctx.loop.cancel(keepaliveTimer)
        keepaliveTimer = .none
        guard let d = keepalive.nextDeadline() else { return }
        guard let t = ctx.schedule(at: d, for: "v1 keepalive", { [self] in
            keepaliveTimer = .none
            let firing = keepalive.fire(now: ctx.now)
            for id in firing.dead {
                if id == V1Service.controlID {
                    control?.deadPeer()
                } else if links[id - 1] != nil && !peerSpoke[id - 1] {
                    // Waiting for the gateway's SSH client (bounded by the login grace).
                    keepalive.revive(id, now: ctx.now)
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
            rearmKeepalive()
        }) else { return timersFull() }
        keepaliveTimer = t
    }
}

extension V1Service: WebSocketLinkDelegate {
    func linkOpened(_ link: WebSocketLink) {
        let conn = link.tag
        keepalive.open(1 + conn, role: .v1DialBack, now: ctx.now)
        peerSpoke[conn] = false
        machine.dialBackConnected(connPath: linkPaths[conn], conn: conn, now: ctx.now)
        process()
        rearmKeepalive()
    }

    func link(_ link: WebSocketLink, received bytes: [UInt8]) {
        let conn = link.tag
        keepalive.noteReceived(1 + conn, now: ctx.now)
        machine.dialBackReceived(conn: conn, bytes)
        process()
    }

    func linkPinged(_ link: WebSocketLink) {
        keepalive.noteReceived(1 + link.tag, now: ctx.now)
    }

    func linkPonged(_ link: WebSocketLink) {
        keepalive.noteReceived(1 + link.tag, now: ctx.now)
    }

    func linkDrained(_ link: WebSocketLink) {
        if let slot = machine.slots.slot(for: .dialBack(link.tag)) { pipes[slot]?.resume() }
    }

    func linkRedirected(_ link: WebSocketLink, status: Int, to location: String) {
        // Every dial-back of a redirected server is: not worth a line each.
        ctx.log.debug("dial-back " + String(link.tag) + ": redirected (" + String(status) + ") to " + location)
    }

    func linkEnded(_ link: WebSocketLink, _ end: LinkEnd) {
        let conn = link.tag
        guard links[conn] === link else { return }
        if keepalive.isOpen(1 + conn) {
            connectionGone(conn)
        } else {
            links[conn] = nil
            machine.dialBackFailed(connPath: linkPaths[conn], error: end.text)
            ctx.log.warning("dial-back failed: " + end.text)
        }
        process()
    }
}

/// One v1 control connection: `GET /ssh/connection` with the bearer token; its lines go to
/// the `V1Service`. Closing it leaves the sessions running.
final class TunnelV1: Tunnel, WebSocketLinkDelegate {
    private let service: V1Service
    private let ctx: RuntimeContext
    private unowned(unsafe) let owner: TunnelOwner
    private var link: WebSocketLink!
    private var up = false
    private var closed = false

    init(service: V1Service, context: RuntimeContext, token: String, owner: TunnelOwner) {
        self.service = service
        ctx = context
        self.owner = owner
        link = WebSocketLink(context: context, target: context.target("/ssh/connection"),
                             bearer: token, label: "control", queue: V1Service.controlQueueBytes, delegate: self)
        link.start()
    }

    func close() {
        guard !closed else { return }
        closed = true
        link.close()
        service.controlClosed(self)
    }

    fileprivate func send(_ bytes: [UInt8]) -> Bool { link.send(bytes) }
    fileprivate func ping() { link.sendPing() }

    fileprivate func deadPeer() {
        fail(.failed("no keep-alive from server"))
    }

    fileprivate func abandon(_ why: String) {
        if !closed { fail(.failed(why)) }
    }

    private func fail(_ end: LinkEnd) {
        let wasUp = up
        close()
        owner.tunnelDown(self, end, wasUp: wasUp)
    }

    func linkOpened(_ link: WebSocketLink) {
        up = true
        service.controlOpened(self)
        owner.tunnelUp(self)
    }

    func link(_ link: WebSocketLink, received bytes: [UInt8]) {
        if !service.controlReceived(bytes) { fail(.failed("garbage on the control connection")) }
    }

    func linkPinged(_ link: WebSocketLink) { service.controlPinged() }

    func linkPonged(_ link: WebSocketLink) { service.controlPinged() }
    func linkDrained(_ link: WebSocketLink) {}

    func linkEnded(_ link: WebSocketLink, _ end: LinkEnd) { fail(end) }

    func linkRedirected(_ link: WebSocketLink, status: Int, to location: String) {
        ctx.log.info("control: redirected (" + String(status) + ") to " + location)
    }
}
