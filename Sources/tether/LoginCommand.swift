import CShims
import TetherAgent
import TetherPlatform
import TetherWire

/// `tether login` (the Go agent's `login`): authenticates the device (with the key proof where
/// offered), asks for a login code (`POST /api/devices/auth/code`, bearer, empty body) and
/// shows it with the console URL and its expiry in lines of at most 80 columns (a serial
/// console); then polls `GET /api/devices/auth/status` every 3 s until a person accepts or
/// rejects the device or the code expires. A device with no tenant yet (never paired) is not
/// registered: one line says so. Exit 0 when accepted (or already), 1 otherwise, 2 for a
/// configuration or key error.
func loginCommand(_ args: [String]) -> Int {
    let config: AgentConfig
    switch RuntimeConfig.load() {
    case .failure(let e):
        Console.err("tether: " + e.message)
        return 2
    case .success(let l): config = l.config
    }
    let log = Logger(target: .none)
    let identity: DeviceProfile
    switch DeviceIdentityLoader.load(config: config, log: log) {
    case .failure(let why):
        Console.err("tether: " + why.message)
        return 2
    case .success(let id): identity = id
    }
    let tls: TLSContext?
    switch agentTLS(config) {
    case .failure(let why):
        Console.err("tether: " + why.message)
        return 2
    case .success(let t): tls = t
    }
    let loop = EventLoop(maxDescriptors: 16, maxTimers: 16)
    let ctx = RuntimeContext(loop: loop, resolver: Resolver(loop: loop), tls: tls, config: config,
                             log: log, identity: identity)
    ctx.loadTenant()
    if ctx.tenantSource == .none && config.provisioningKey.isEmpty {
        Console.out("not registered yet: no tenant (SHELLHUB_TENANT_ID unset, no <key>.tenant);")
        Console.out("run 'tether' to pair this device (it shows a pairing code)")
        return 1
    }
    let login = LoginSession(context: ctx)
    login.start()
    loop.run()
    return login.exitStatus
}

final class LoginSession {
    static let pollMs: UInt64 = 3_000
    private let ctx: RuntimeContext
    private var auth: DeviceAuthFlow?
    private var call: DeviceAPICall?
    private var timer = TimerToken.none
    private var token = ""
    private var deadline: UInt64 = 0
    private(set) var exitStatus = 1

    init(context: RuntimeContext) { ctx = context }

    func start() {
        auth = DeviceAuthFlow(context: ctx) { [self] verdict, response, failure in
            self.auth = nil
            switch verdict {
            case .authenticated(let t):
                self.token = t
                self.ctx.namespace = response?.namespace ?? ""
                self.ctx.deviceName = response?.name ?? ""
                if response?.status == "accepted" {
                    Console.out("Already accepted: " + self.deviceText)
                    return self.end(0)
                }
                self.requestCode()
            case .deviceRemoved:
                Console.out("not registered: the server removed this device (401)")
                self.end(1)
            case .retry(let cause, _):
                Console.out(cause == .refused(404) ? "not registered: SHELLHUB_TENANT_ID names no namespace (404)"
                                                   : "device auth failed: " + (failure ?? Runtime.describe(cause)))
                self.end(1)
            }
        }
    }

    private func requestCode() {
        call = DeviceAPICall(context: ctx, endpoint: .loginCode(token: token)) { [self] answer, failure in
            self.call = nil
            guard case .http(let status, let body) = answer else {
                Console.out("login code: " + (failure ?? "no answer"))
                return self.end(1)
            }
            guard status == 200, let code = try? DeviceLoginCode.parse(body) else {
                Console.out("login code: the server answered " + String(status)
                            + (status == 404 ? " (no login codes on this server)" : ""))
                return self.end(1)
            }
            self.show(code)
            self.deadline = self.ctx.loop.nowMilliseconds + UInt64(code.expiresInSeconds) * 1000
            self.schedulePoll()
        }
        call?.start()
    }

    private func show(_ code: DeviceLoginCode) {
        // One write, concatenated (cheaper than interpolation in a board build).
        let page = ctx.config.server.text + "/accept-device"
        let m = code.expiresInSeconds / 60
        let left = m > 0 ? String(m) + " min" : String(code.expiresInSeconds) + " s"
        Console.out("To accept this device, enter this code in the ShellHub console:\n\n      "
                    + code.display + "\n\nat " + page + ", or open:\n  " + page + "?code=" + code.code
                    + "\nWaiting for acceptance... (code expires in " + left + ")")
    }

    private var deviceText: String { ctx.namespace + "." + ctx.deviceName }

    private func schedulePoll() {
        do {
            timer = try ctx.loop.schedule(afterMilliseconds: LoginSession.pollMs) { [self] in
                self.timer = .none
                self.poll()
            }
        } catch {
            Console.err("login: event loop timer table full")
            ctx.loop.stop()
        }
    }

    private func poll() {
        if ctx.loop.nowMilliseconds >= deadline {
            Console.out("The code expired before the device was accepted; run 'tether login' again.")
            return end(1)
        }
        call = DeviceAPICall(context: ctx, endpoint: .authStatus(token: token)) { [self] answer, _ in
            self.call = nil
            if case .http(200, let body) = answer, let status = try? DeviceAuthStatus.parse(body) {
                if status == "accepted" {
                    Console.out("Accepted: " + self.deviceText)
                    return self.end(0)
                }
                if status == "rejected" {
                    Console.out("The device was rejected.")
                    return self.end(1)
                }
            }
            // pending, or a transient failure: keep polling until the code expires.
            self.schedulePoll()
        }
        call?.start()
    }

    private func end(_ status: Int) {
        exitStatus = status
        ctx.loop.cancel(timer)
        ctx.loop.stop()
    }
}
