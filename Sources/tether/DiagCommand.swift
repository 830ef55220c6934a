import CShims
import TetherAgent
import TetherPlatform
import TetherWire

/// `tether diag`: checks, in the order an agent needs them, everything between this board and
/// its ShellHub server, and says in one short line each (80 columns, for a serial console at
/// 115200 baud) what works and what is wrong, with a hint where the fix is not obvious.
/// It changes nothing on the board: a missing key is reported, not created.
/// Exit status 0 when every check passed, 1 otherwise.
func diagCommand(_ args: [String]) -> Int {
    let diag = Diagnosis()
    return diag.run()
}

/// Earliest plausible wall-clock time: this release's build date. A board whose clock reads
/// earlier has no RTC and no NTP yet, and every certificate will look "not yet valid".
let releaseEpoch: Int64 = 1_793_491_200  // 2026-11-01T00:00:00Z

final class Diagnosis: LinkDelegate, WebSocketLinkDelegate {
    /// `/info` answers are a few hundred bytes.
    static let maxInfoAnswerBytes = 16 * 1024
    /// Each check's connection sends one request head.
    static let queueBytes = 4096
    private var passed = 0
    private var failed = 0
    private var loop: EventLoop!
    private var context: RuntimeContext?
    private var steps: [() -> Void] = []
    private var link: Link?
    private var ws: WebSocketLink?
    private var api: APIExchange?
    private var auth: DeviceAuthFlow?
    private var timer = TimerToken.none

    func line(_ name: String, _ ok: Bool, _ text: String) {
        if ok { passed += 1 } else { failed += 1 }
        var l = name
        while l.utf8.count < 9 { l += " " }
        l += ok ? "ok   " : "FAIL "
        l += text
        if l.utf8.count > 79 { l = String(decoding: l.utf8.prefix(76), as: UTF8.self) + "..." }
        Console.out(l)
    }

    func hint(_ text: String) { Console.out("         hint: " + text) }

    func run() -> Int {
        Console.out(BuildInfo.versionLine)
        guard let config = checkConfig() else { return finish() }
        checkClock()
        let key = checkKey(config)
        checkIdentity(config)
        guard let key, let pem = try? key.publicKeyPEM() else { return finish() }
        loop = EventLoop(maxDescriptors: 16, maxTimers: 16)
        let trust = checkTrust(config)
        guard trust.passed else { return finish() }
        let ctx = makeContext(config: config, key: key, publicKeyPEM: pem, tls: trust.context)
        context = ctx
        ctx.loadTenant()
        reportTenant(ctx)
        // Without a tenant (or a provisioning key) there is nothing to authenticate as:
        // pairing needs a person.
        let canAuth = ctx.tenantSource != .none || !config.provisioningKey.isEmpty
        steps = canAuth ? [connectStep, infoStep, authStep, tunnelStep] : [connectStep, infoStep]
        next()
        do {
            timer = try loop.schedule(afterMilliseconds: 90_000) { [self] in
                line("diag", false, "gave up after 90 s")
                loop.stop()
            }
        } catch {
            line("diag", false, "event loop timer table full")
            return finish()
        }
        loop.run()
        return finish()
    }

    @inline(__always)
    private func checkConfig() -> AgentConfig? {
        switch RuntimeConfig.load() {
        case .failure(let e):
            line("config", false, e.message)
            hint("set it in the environment or /etc/tether.conf")
            return nil
        case .success(let l):
            line("config", true, (l.file ?? "environment only") + ", v" + String(l.config.transport.rawValue))
            return l.config
        }
    }

    @inline(__always)
    private func checkClock() {
        let now = WallClock.nowSeconds()
        if let warning = WallClock.sanityWarning(now: now, notBefore: releaseEpoch) {
            line("clock", false, warning)
            hint("no RTC? start NTP before tether, or TLS checks will fail")
        } else {
            let t = WallClock.now()
            line("clock", true, t.dateString + " " + t.timeString + " UTC")
        }
    }

    @inline(__always)
    private func checkKey(_ config: AgentConfig) -> DeviceKey? {
        guard Files.exists(config.privateKeyPath) else {
            line("key", false, config.privateKeyPath + " missing (created at first run)")
            return nil
        }
        do {
            let key = try DeviceKey.load(path: config.privateKeyPath)
            line("key", true, config.privateKeyPath + " (RSA " + String(key.bitLength) + ")")
            return key
        } catch {
            line("key", false, config.privateKeyPath + ": " + error.message)
            hint("a PKCS#1 'RSA PRIVATE KEY' PEM; move it away to make a new one")
            return nil
        }
    }

    @inline(__always)
    private func checkIdentity(_ config: AgentConfig) {
        if let id = DeviceIdentity.select(preferred: config.preferredIdentity) {
            line("identity", true, id.value)
        } else {
            line("identity", false, "no Ethernet-type interface and no machine-id")
            hint("set SHELLHUB_PREFERRED_IDENTITY")
        }
    }

    /// The CA bundle for an https server (none needed for http).
    @inline(__always)
    private func checkTrust(_ config: AgentConfig) -> (passed: Bool, context: TLSContext?) {
        guard config.server.isTLS else { return (true, nil) }
        do {
            let tls = try TLSContext(settings: TLSSettings.fromEnvironment())
            line("trust", true, tls.trustSource + " (" + String(tls.trustedCount) + " CAs)")
            return (true, tls)
        } catch {
            line("trust", false, error.message)
            hint("install ca-certificates or set SSL_CERT_FILE")
            return (false, nil)
        }
    }

    @inline(__always)
    private func makeContext(
        config: AgentConfig, key: DeviceKey, publicKeyPEM pem: String, tls: TLSContext?
    ) -> RuntimeContext {
        let system = SystemInfo.current()
        let profile = DeviceProfile(
            publicKeyPEM: pem, mac: DeviceIdentity.select(preferred: config.preferredIdentity)?.value ?? "",
            hostname: config.preferredHostname,
            info: DeviceInfo(id: system.id, prettyName: system.prettyName, version: AgentVersion.string,
                             arch: system.arch, platform: system.platform),
            key: key)
        return RuntimeContext(loop: loop, resolver: Resolver(loop: loop), tls: tls, config: config,
                              log: Logger(target: .none), identity: profile)
    }

    @inline(__always)
    private func reportTenant(_ ctx: RuntimeContext) {
        switch ctx.tenantSource {
        case .configuration: line("tenant", true, ctx.tenant)
        case .pairing: line("tenant", true, ctx.tenant + " (paired, " + ctx.tenantFilePath + ")")
        case .none where !ctx.config.provisioningKey.isEmpty: line("tenant", true, "none: from the provisioning key")
        case .none: line("tenant", true, "none: 'tether run' pairs first (shows a code)")
        }
    }

    private func finish() -> Int {
        Console.out("diag: " + String(passed) + " passed, " + String(failed) + " failed")
        return failed == 0 ? 0 : 1
    }

    private func next() {
        guard !steps.isEmpty else {
            loop.stop()
            return
        }
        let step = steps.removeFirst()
        step()
    }

    private func stop() { steps = []; loop.stop() }

    // MARK: steps

    private func connectStep() {
        guard let ctx = context else { return }
        let l = Link(loop: loop, resolver: ctx.resolver, options: ctx.linkOptions(queue: Diagnosis.queueBytes), delegate: self)
        link = l
        l.open()
    }

    func linkOpened(_ link: Link) {
        guard let ctx = context else { return }
        var text = ctx.config.server.host + ":" + String(ctx.config.server.port)
        if let addr = link.remoteAddress { text += " (" + addr.hostText + ")" }
        if let t = link.tls { text += " " + t.version + " verified" }
        line("connect", true, text)
        link.abort()
        self.link = nil
        next()
    }

    func link(_ link: Link, received bytes: UnsafeRawBufferPointer) {}
    func linkWritable(_ link: Link) {}

    func linkClosed(_ link: Link, error: LinkError?) {
        self.link = nil
        let why = error?.message ?? "closed by server"
        line("connect", false, why)
        if case .tls(let e) = error, e.isClockTooEarly {
            hint("set the clock (NTP), then retry")
        } else if case .tls = error {
            hint("SSL_CERT_FILE must hold the CA that signed the server")
        } else if case .resolve = error {
            hint("check /etc/resolv.conf and the server name")
        } else {
            hint("check the address, port, firewall, HTTPS_PROXY")
        }
        stop()
    }

    private func infoStep() {
        guard let ctx = context else { return }
        var status = 0
        var body: [UInt8] = []
        var parser = HTTPResponseParser(limits: HTTPLimits(maxBodyBytes: Diagnosis.maxInfoAnswerBytes))
        let request = (try? ShellHubAPIRequest.encode("GET", "/info?agent_version=" + ctx.versionString,
                                                      server: ctx.config.server, agentVersion: ctx.versionString)) ?? []
        api = APIExchange(context: ctx, request: request, onData: { [self] data in
            parser.feed(data)
            while let event = try? parser.next() {
                switch event {
                case .head(let h): status = h.statusCode
                case .body(let b): body.append(contentsOf: b)
                case .end:
                    if status == 200, let info = try? ServerInfo.parse(body) {
                        line("server", true, "ShellHub " + (info.version ?? "?"))
                        next()
                    } else {
                        line("server", false, "GET /info answered " + String(status))
                        hint("is SHELLHUB_SERVER_ADDRESS a ShellHub server?")
                        stop()
                    }
                    return true
                }
            }
            return false
        }, onEnd: { [self] failure in
            line("server", false, "GET /info: " + (failure ?? "no answer"))
            stop()
        })
        api?.start()
    }

    private func authStep() {
        guard let ctx = context else { return }
        auth = DeviceAuthFlow(context: ctx) { [self] verdict, response, failure in
            switch verdict {
            case .authenticated(let token):
                let r = response
                line("auth", true, (r?.namespace ?? "?") + "." + (r?.name ?? "?") + " " + (r?.status ?? "(cached)"))
                if r?.status == "pending" { hint("accept the device in the ShellHub UI") }
                ctx.token = token
                next()
            case .deviceRemoved:
                line("auth", false, "401: device removed from its namespace")
                stop()
            case .retry(let cause, _):
                line("auth", false, failure ?? Runtime.describe(cause))
                if cause == .refused(404) { hint("SHELLHUB_TENANT_ID names no namespace") }
                if cause == .refused(400) { hint("check SHELLHUB_PREFERRED_HOSTNAME/IDENTITY") }
                stop()
            }
        }
    }

    private func tunnelStep() {
        guard let ctx = context, let token = ctx.token else { return }
        let w = WebSocketLink(context: ctx, target: ctx.target(ctx.config.transport.endpointPath),
                              bearer: token, label: "diag", queue: Diagnosis.queueBytes, delegate: self)
        ws = w
        w.start()
    }

    func linkOpened(_ link: WebSocketLink) {
        line("tunnel", true, "v" + String(context!.config.transport.rawValue) + " " + context!.config.transport.endpointPath + " upgraded")
        link.close()
        ws = nil
        next()
    }

    func link(_ link: WebSocketLink, received bytes: [UInt8]) {}
    func linkPinged(_ link: WebSocketLink) {}
    func linkDrained(_ link: WebSocketLink) {}
    func linkPonged(_ link: WebSocketLink) {}

    func linkEnded(_ link: WebSocketLink, _ end: LinkEnd) {
        ws = nil
        line("tunnel", false, end.text)
        if end == .refused(status: 403) { hint("the server requires the device to be accepted") }
        if end == .refused(status: 404) { hint("old server: try SHELLHUB_TRANSPORT_VERSION=1") }
        stop()
    }
}
