import CShims
import TetherAgent
import TetherPlatform
import TetherSSH
import TetherWire

/// The device's SSH service inside the agent's one event loop: each session slot's socketpair
/// end becomes an `SSHServerConnection`, run by an `SSHConnectionDriver` (its fds registered
/// with the loop as channels, ptys and children come and go; its deadlines as loop timers).
/// Public keys are checked with the hub's oracle (POST /api/auth/ssh).
final class SSHSessions: SessionServer, PublicKeyOracle {
    /// The oracle's answer is a signature in a small JSON object.
    static let maxOracleAnswerBytes = 16 * 1024
    private let ctx: RuntimeContext
    private var server: SSHServer?
    /// Live connections by session id (for the close protocol), each run on the event loop
    /// by TetherSSH's driver.
    private var connections: [(id: String, driver: SSHConnectionDriver)] = []
    private var oracleCalls: [APIExchange] = []

    init(context: RuntimeContext) {
        ctx = context
    }

    /// The SSH server, made at the first session: by then device auth told the device name
    /// that goes into SHELLHUB_HOST and the public-key oracle's `data`.
    /// `TETHER_SHADOW_FILE` / `TETHER_PASSWD_FILE`: account files other than /etc/shadow and
    /// /etc/passwd (tests, containers). Honoured only for a file as safe as those (regular,
    /// owned by the agent's user, writable by it alone); anything else is said once (the server
    /// is made once) and the system's file is used.
    private func accountFile(_ variable: String) -> String? {
        guard let path = RuntimeConfig.environment(variable) else { return nil }
        if Files.isOwnedRegularFile(path) { return path }
        ctx.log.warning("ssh: " + variable + "=" + path
            + " ignored: not a regular file owned by this user and writable by it alone")
        return nil
    }

    private func ensureServer() -> SSHServer? {
        if let server { return server }
        var config = SSHServerConfig(hostKeyPath: ctx.config.privateKeyPath)
        config.loginGraceMs = Int64(ctx.config.loginGraceSeconds) * 1000
        config.deviceName = ctx.deviceName.isEmpty ? "device" : ctx.deviceName
        config.permitEmptyPasswords = ctx.config.permitEmptyPasswords
        if !ctx.config.singleUserPassword.isEmpty {
            config.singleUserPasswordHash = ctx.config.singleUserPassword
            config.forceSingleUser = true
        }
        if ctx.config.sshSessionKeepalive {
            config.keepaliveIntervalMs = Int64(ctx.config.sessionKeepaliveSeconds) * 1000
        }
        if let path = accountFile("TETHER_SHADOW_FILE") { config.shadowPath = path }
        if let path = accountFile("TETHER_PASSWD_FILE") { config.passwdPath = path }
        do {
            let s = try SSHServer(config: config)
            s.oracle = self
            s.resolver = ctx.resolver
            s.wake = { [self] in for c in connections { c.driver.poke() } }
            server = s
            return s
        } catch {
            ctx.log.error("ssh: " + String(error.text))
            return nil
        }
    }

    // MARK: SessionServer

    func startSession(fd: Int32, sessionID: String) -> Bool {
        guard let server = ensureServer() else { return false }
        let conn: SSHServerConnection
        do {
            conn = try server.accept(fd: fd, peer: "hub", now: Int64(ctx.loop.nowMilliseconds))
        } catch {
            ctx.log.error("ssh: " + String(error.text))
            return false
        }
        let driver = SSHConnectionDriver(connection: conn, loop: ctx.loop)
        driver.onClosed = { [self] c in
            connections.removeAll { $0.driver.connection === c }
        }
        connections.append((sessionID, driver))
        driver.start()
        return true
    }

    func closeSession(sessionID: String) {
        guard let i = connections.firstIndex(where: { $0.id == sessionID }) else { return }
        let driver = connections[i].driver
        driver.connection.close(reason: "closed by the server")
        driver.poke()
    }

    // MARK: PublicKeyOracle (POST /api/auth/ssh, PROTOCOL.md 7.3)

    func start(_ request: PublicKeyOracleRequest, ticket: PublicKeyOracleTicket) {
        guard let token = ctx.token else {
            ticket.resolve(signatureBase64: nil)
            return
        }
        let body = SSHAuthRequest(fingerprint: request.fingerprint, data: request.data).encode()
        guard let bytes = try? ShellHubAPIRequest.encode("POST", "/api/auth/ssh", server: ctx.config.server,
                                                         agentVersion: ctx.versionString, bearer: token, json: body)
        else {
            ticket.resolve(signatureBase64: nil)
            return
        }
        var parser = HTTPResponseParser(limits: HTTPLimits(maxBodyBytes: SSHSessions.maxOracleAnswerBytes))
        var status = 0
        var answer: [UInt8] = []
        var exchange: APIExchange? = nil
        let finish: (String?) -> Void = { [self] signature in
            ticket.resolve(signatureBase64: signature)
            if let e = exchange { oracleCalls.removeAll { $0 === e } }
            // The connection waiting for this verdict advances now.
            for c in connections { c.driver.poke() }
        }
        exchange = APIExchange(context: ctx, request: bytes, onData: { data in
            parser.feed(data)
            while let event = try? parser.next() {
                switch event {
                case .head(let h): status = h.statusCode
                case .body(let b): answer.append(contentsOf: b)
                case .end:
                    let sig = status == 200 ? (try? SSHAuthResponse.parse(answer))?.signature : nil
                    if status != 200 { self.ctx.log.info("ssh: key oracle answered " + String(status)) }
                    finish(sig.map { String(decoding: Base64.encode($0), as: UTF8.self) })
                    return true
                }
            }
            return false
        }, onEnd: { failure in
            if let failure { self.ctx.log.warning("ssh: key oracle: " + String(failure)) }
            finish(nil)
        })
        if let exchange {
            oracleCalls.append(exchange)
            exchange.start()
        }
    }
}
