import CShims
import TetherAgent
import TetherPlatform
import TetherSSH
import TetherWire

/// The device's SSH service inside the agent's one event loop: each session slot's socketpair
/// end becomes an `SSHServerConnection`, whose fds (the socketpair, ptys, child pipes,
/// forwarded sockets) are kept registered with the loop as they come and go, and whose
/// deadlines become loop timers. Public keys are checked with the hub's oracle.
final class SSHSessions: SessionServer, PublicKeyOracle {
    private let ctx: RuntimeContext
    private var server: SSHServer?
    /// Live connections by session id (for the close protocol).
    private var connections: [(id: String, conn: SSHServerConnection, watcher: ConnectionWatcher)] = []
    private var orphanTimer = TimerToken.none
    private var oracleCalls: [APIExchange] = []

    init(context: RuntimeContext) {
        ctx = context
    }

    /// The SSH server, made at the first session: by then device auth told the device name
    /// that goes into SHELLHUB_HOST and the public-key oracle's `data`.
    private func ensureServer() -> SSHServer? {
        if let server { return server }
        var config = SSHServerConfig(hostKeyPath: ctx.config.privateKeyPath)
        config.deviceName = ctx.deviceName.isEmpty ? "device" : ctx.deviceName
        config.permitEmptyPasswords = ctx.config.permitEmptyPasswords
        if !ctx.config.singleUserPassword.isEmpty {
            config.singleUserPasswordHash = ctx.config.singleUserPassword
            config.forceSingleUser = true
        }
        if ctx.config.sshSessionKeepalive {
            config.keepaliveIntervalMs = Int64(ctx.config.sessionKeepaliveSeconds) * 1000
        }
        if let path = RuntimeConfig.environment("TETHER_SHADOW_FILE") { config.shadowPath = path }
        if let path = RuntimeConfig.environment("TETHER_PASSWD_FILE") { config.passwdPath = path }
        do {
            let s = try SSHServer(config: config)
            s.oracle = self
            server = s
            return s
        } catch {
            ctx.log.error("ssh: \(error.text)")
            return nil
        }
    }

    // MARK: SessionServer

    func startSession(fd: Int32, sessionID: String) -> Bool {
        guard let server = ensureServer() else { return false }
        let now = Int64(ctx.loop.nowMilliseconds)
        let conn: SSHServerConnection
        do {
            conn = try server.accept(fd: fd, peer: "hub", now: now)
        } catch {
            ctx.log.error("ssh: \(error.text)")
            return false
        }
        let watcher = ConnectionWatcher(sessions: self, conn: conn)
        connections.append((sessionID, conn, watcher))
        service(conn, watcher: watcher)
        return true
    }

    func closeSession(sessionID: String) {
        guard let i = connections.firstIndex(where: { $0.id == sessionID }) else { return }
        connections[i].conn.close(reason: "closed by the server")
        service(connections[i].conn, watcher: connections[i].watcher)
    }

    /// Advances one connection, then brings its fd registrations and timer up to date.
    fileprivate func service(_ conn: SSHServerConnection, watcher: ConnectionWatcher) {
        conn.service(now: Int64(ctx.loop.nowMilliseconds))
        if conn.state == .closed {
            watcher.sync(interests: [], deadline: nil)
            connections.removeAll { $0.conn === conn }
            ctx.log.info("ssh: \(conn.closeReason ?? "closed")")
        } else {
            var wants: [SSHPollInterest] = []
            conn.pollInterests(into: &wants)
            watcher.sync(interests: wants, deadline: conn.nextDeadline)
        }
        reapOrphans()
    }

    private func reapOrphans() {
        guard let server else { return }
        server.reapOrphans()
        ctx.loop.cancel(orphanTimer)
        orphanTimer = .none
        if server.orphanCount > 0 {
            orphanTimer = (try? ctx.loop.schedule(afterMilliseconds: 200) { [self] in
                orphanTimer = .none
                reapOrphans()
            }) ?? .none
        }
    }

    // MARK: PublicKeyOracle (POST /api/auth/ssh, PROTOCOL.md 7.3)

    func start(_ request: PublicKeyOracleRequest, ticket: PublicKeyOracleTicket) {
        guard let token = ctx.token else {
            ticket.resolve(signatureBase64: nil)
            return
        }
        let body = SSHAuthRequest(fingerprint: request.fingerprint, data: request.data).encode()
        var headers = HTTPHeaders()
        headers.add("User-Agent", "tether/" + ctx.versionString)
        headers.add("Content-Type", "application/json")
        headers.add("Authorization", "Bearer " + token)
        headers.add("Connection", "close")
        guard let bytes = try? HTTPRequest(method: "POST", target: ctx.target("/api/auth/ssh"),
                                           host: ctx.config.server.hostHeader, headers: headers,
                                           body: body).encode()
        else {
            ticket.resolve(signatureBase64: nil)
            return
        }
        var parser = HTTPResponseParser(limits: HTTPLimits(maxBodyBytes: 16 * 1024))
        var status = 0
        var answer: [UInt8] = []
        var exchange: APIExchange? = nil
        let finish: (String?) -> Void = { [self] signature in
            ticket.resolve(signatureBase64: signature)
            if let e = exchange { oracleCalls.removeAll { $0 === e } }
            // The connection waiting for this verdict advances on the next loop pass.
            for c in connections { service(c.conn, watcher: c.watcher) }
        }
        exchange = APIExchange(context: ctx, request: bytes, onData: { data in
            parser.feed(data)
            while let event = try? parser.next() {
                switch event {
                case .head(let h): status = h.statusCode
                case .body(let b): answer.append(contentsOf: b)
                case .end:
                    let sig = status == 200 ? (try? SSHAuthResponse.parse(answer))?.signature : nil
                    if status != 200 { self.ctx.log.info("ssh: key oracle answered \(status)") }
                    finish(sig.map { String(decoding: Base64.encode($0), as: UTF8.self) })
                    return true
                }
            }
            return false
        }, onEnd: { failure in
            if let failure { self.ctx.log.warning("ssh: key oracle: \(failure)") }
            finish(nil)
        })
        if let exchange { oracleCalls.append(exchange) }
    }
}

/// Keeps one SSH connection's fds registered with the event loop (they change as channels,
/// ptys and children come and go) and its deadline armed; any readiness services the
/// connection.
final class ConnectionWatcher: IOHandler {
    private unowned(unsafe) let sessions: SSHSessions
    private unowned(unsafe) let conn: SSHServerConnection
    private var registered: [(fd: Int32, events: IOEvents)] = []
    private var timer = TimerToken.none

    init(sessions: SSHSessions, conn: SSHServerConnection) {
        self.sessions = sessions
        self.conn = conn
    }

    func sync(interests: [SSHPollInterest], deadline: Int64?) {
        let loop = sessionsLoop
        var wanted: [(fd: Int32, events: IOEvents)] = []
        for w in interests {
            var e: IOEvents = []
            if w.events & Int16(POLLIN) != 0 { e.insert(.readable) }
            if w.events & Int16(POLLOUT) != 0 { e.insert(.writable) }
            if let i = wanted.firstIndex(where: { $0.fd == w.fd }) {
                wanted[i].events.formUnion(e)
            } else {
                wanted.append((w.fd, e))
            }
        }
        for r in registered where !wanted.contains(where: { $0.fd == r.fd }) {
            loop.unregister(fd: r.fd)
        }
        for w in wanted {
            if let r = registered.first(where: { $0.fd == w.fd }) {
                if r.events != w.events { try? loop.setInterest(fd: w.fd, w.events) }
            } else {
                try? loop.register(fd: w.fd, interest: w.events, handler: self)
            }
        }
        registered = wanted
        loop.cancel(timer)
        timer = .none
        if let d = deadline {
            let ms = UInt64(max(d, 0))
            timer = (try? loop.schedule(atNanoseconds: ms &* 1_000_000) { [self] in
                timer = .none
                sessions.serviceFromWatcher(conn, watcher: self)
            }) ?? .none
        }
    }

    private var sessionsLoop: EventLoop { sessions.loop }

    func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        sessions.serviceFromWatcher(conn, watcher: self)
    }
}

extension SSHSessions {
    fileprivate var loop: EventLoop { ctx.loop }
    fileprivate func serviceFromWatcher(_ conn: SSHServerConnection, watcher: ConnectionWatcher) {
        service(conn, watcher: watcher)
    }
}
