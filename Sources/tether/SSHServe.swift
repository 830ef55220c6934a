import CShims
import TetherPlatform
import TetherSSH

/// `tether ssh-serve --port N --host-key FILE [--shadow FILE] [--passwd FILE]
///  [--device-name NAME] [--single-user-hash HASH] [--permit-empty] [--oracle-key FILE]
///  [--keepalive MS] [--login-grace-ms MS] [--builtin-sftp] [--builtin-sftp-runner QEMU]
///  [--socketpair] [--utmp F] [--wtmp F] [--libssh-log N] [--loop-descriptors N] [--loop-timers N] [--verbose]`
///
/// A debug listener on 127.0.0.1:N for tests with real OpenSSH clients: every TCP connection
/// is served by the agent's SSH server on the agent's own EventLoop and SSHConnectionDriver
/// (there is no second loop). What it leaves out is the hub: no tunnel, no session slots.
/// `--socketpair` serves each connection on one end of a socketpair, as a slot does, with the
/// TCP socket pumped into the other end. `--oracle-key` stands in for the hub's key oracle:
/// fingerprints of that key's public half are "known" and `data` is signed with it (answered
/// on the next loop turn, i.e. asynchronously). `--loop-descriptors` and `--loop-timers` size the
/// loop's tables (tests of a full table).
func sshServeCommand(_ args: [String]) -> Int {
    let options: SSHServeOptions
    switch SSHServeOptions.parse(args) {
    case .success(let o): options = o
    case .failure(let e):
        Console.err("ssh-serve: " + e.message)
        return 2
    }
    let server: SSHServer
    do {
        server = try SSHServer(config: options.config)
    } catch {
        Console.err("ssh-serve: " + error.text)
        return 1
    }
    let oracle = TestKeyOracle()
    if let path = options.oracleKey {
        guard oracle.load(privateKeyPath: path) else {
            Console.err("ssh-serve: cannot load oracle key " + path)
            return 1
        }
        server.oracle = oracle
    }
    let listener = tether_tcp_listen("127.0.0.1", options.port, 64)
    if listener < 0 {
        Console.err("ssh-serve: cannot listen on 127.0.0.1:" + String(options.port) + " (errno " + String(-listener) + ")")
        return 1
    }
    Console.out("ssh-serve: listening on 127.0.0.1:" + String(options.port))
    let loop = EventLoop(maxDescriptors: options.loopDescriptors, maxTimers: options.loopTimers)
    let acceptor = SSHServeAcceptor(server: server, loop: loop, viaSocketpair: options.viaSocketpair)
    server.wake = { for d in acceptor.drivers { d.poke() } }
    answerOnNextTurn(oracle, loop: loop, acceptor: acceptor)
    do {
        try loop.register(fd: listener, interest: .readable, handler: acceptor)
    } catch {
        Console.err("ssh-serve: event loop registration failed")
        return 1
    }
    loop.run()
    return 0
}

/// The oracle's answers go out on the next loop turn, as the hub's would; with no timer
/// free, at once.
private func answerOnNextTurn(_ oracle: TestKeyOracle, loop: EventLoop, acceptor: SSHServeAcceptor) {
    oracle.onQueued = {
        do throws(EventLoopError) {
            _ = try loop.schedule(afterMilliseconds: 0) {
                oracle.deliverQueued()
                for d in acceptor.drivers { d.poke() }
            }
        } catch {
            oracle.deliverQueued()
        }
    }
}

/// ssh-serve's command line.
struct SSHServeOptions {
    /// Table sizes of ssh-serve's loop: a debug listener for many parallel test clients.
    static let maxDescriptors = 1024
    static let maxTimers = 512

    var port: Int32 = 0
    var config = SSHServerConfig(hostKeyPath: "")
    var oracleKey: String?
    var viaSocketpair = false
    var loopDescriptors = maxDescriptors
    var loopTimers = maxTimers

    struct Failure: Error { let message: String }

    static func parse(_ args: [String]) -> Result<SSHServeOptions, Failure> {
        var o = SSHServeOptions()
        var hostKey: String?
        var i = 0
        func value() -> String? {
            i += 1
            return i < args.count ? args[i] : nil
        }
        while i < args.count {
            switch args[i] {
            case "--port": o.port = Int32(value() ?? "") ?? 0
            case "--host-key": hostKey = value()
            case "--shadow": o.config.shadowPath = value() ?? o.config.shadowPath
            case "--passwd": o.config.passwdPath = value() ?? o.config.passwdPath
            case "--device-name": o.config.deviceName = value() ?? o.config.deviceName
            case "--single-user-hash":
                o.config.singleUserPasswordHash = value()
                o.config.forceSingleUser = true
            case "--permit-empty": o.config.permitEmptyPasswords = true
            case "--builtin-sftp": o.config.sftpServerPaths = []
            case "--builtin-sftp-runner":
                // Tests under qemu-user without binfmt_misc: run the built-in SFTP server
                // through the emulator, since the kernel cannot exec the ARM binary itself.
                if let runner = value(), let me = realpath("/proc/self/exe", nil) {
                    o.config.builtinSFTP = (runner, [runner, String(cString: me), "sftp-server"])
                    free(me)
                }
            case "--socketpair": o.viaSocketpair = true
            case "--utmp": o.config.utmpPath = value()
            case "--wtmp": o.config.wtmpPath = value()
            case "--oracle-key": o.oracleKey = value()
            case "--keepalive": o.config.keepaliveIntervalMs = Int64(value() ?? "") ?? 0
            case "--login-grace-ms": o.config.loginGraceMs = Int64(value() ?? "") ?? 0
            case "--libssh-log": o.config.libsshLogLevel = Int32(value() ?? "") ?? 0
            case "--loop-descriptors": o.loopDescriptors = max(2, Int(value() ?? "") ?? maxDescriptors)
            case "--loop-timers": o.loopTimers = max(1, Int(value() ?? "") ?? maxTimers)
            case "--verbose": SSHLog.verbose = true
            default: return .failure(Failure(message: "unknown option '" + args[i] + "'"))
            }
            i += 1
        }
        guard o.port > 0, let hostKey else {
            return .failure(Failure(message: "usage: tether ssh-serve --port N --host-key FILE [--shadow FILE]"))
        }
        o.config.hostKeyPath = hostKey
        return .success(o)
    }
}

/// Accepts TCP connections and gives each an `SSHConnectionDriver` (and, with `--socketpair`,
/// a `SocketBridge` from the TCP socket to the connection's socketpair end).
private final class SSHServeAcceptor: IOHandler {
    let server: SSHServer
    let loop: EventLoop
    let viaSocketpair: Bool
    var drivers: [SSHConnectionDriver] = []
    var bridges: [SocketBridge] = []

    init(server: SSHServer, loop: EventLoop, viaSocketpair: Bool) {
        self.server = server
        self.loop = loop
        self.viaSocketpair = viaSocketpair
    }

    func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        var peerBuf = [CChar](repeating: 0, count: 64)
        while true {
            let c = peerBuf.withUnsafeMutableBufferPointer { tether_tcp_accept(fd, $0.baseAddress, $0.count) }
            if c < 0 { return }
            let peer = String(decoding: peerBuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !serve(fd: c, peer: peer) { close(c) }
        }
    }

    private func serve(fd: Int32, peer: String) -> Bool {
        let now = Int64(MonotonicClock.nowMilliseconds())
        let conn: SSHServerConnection
        do {
            if viaSocketpair {
                let (c, streamEnd) = try server.acceptViaSocketpair(peer: peer, now: now)
                guard let bridge = SocketBridge(outer: fd, inner: streamEnd, loop: loop) else {
                    Console.err("ssh-serve: accept: event loop full")
                    close(streamEnd)
                    c.close(reason: "event loop full")
                    return false
                }
                bridge.onDone = { [self] done in bridges.removeAll { $0 === done } }
                bridges.append(bridge)
                conn = c
            } else {
                conn = try server.accept(fd: fd, peer: peer, now: now)
            }
        } catch {
            Console.err("ssh-serve: accept: " + error.text)
            return false
        }
        let driver = SSHConnectionDriver(connection: conn, loop: loop)
        driver.onClosed = { [self] closed in drivers.removeAll { $0.connection === closed } }
        drivers.append(driver)
        driver.start()
        return true
    }
}
