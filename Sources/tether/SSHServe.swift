import CShims
import TetherPlatform
import TetherSSH

/// `tether ssh-serve --port N --host-key FILE [--shadow FILE] [--passwd FILE]
///  [--device-name NAME] [--single-user-hash HASH] [--permit-empty] [--oracle-key FILE]
///  [--keepalive MS] [--login-grace-ms MS] [--builtin-sftp] [--builtin-sftp-runner QEMU] [--socketpair] [--event-loop] [--utmp F] [--wtmp F] [--verbose]`
/// `--socketpair` serves each connection through a socketpair, as the agent's slots do.
/// `--event-loop` drives connections with TetherPlatform's EventLoop and SSHConnectionDriver
/// (the runtime's way) instead of the small poll() loop below.
/// A debug listener on 127.0.0.1:N that serves every TCP connection with the agent's SSH
/// server in one small poll() loop, so real OpenSSH clients can be used in tests.
/// `--oracle-key` stands in for the hub: fingerprints of that key's public half are "known"
/// and `data` is signed with it (answered on the next loop turn, i.e. asynchronously).
func sshServeCommand(_ args: [String]) -> Int {
    var port: Int32 = 0
    var hostKey: String?
    var config = SSHServerConfig(hostKeyPath: "")
    var oracleKey: String?
    var viaSocketpair = false
    var useEventLoop = false
    var i = 0
    func value() -> String? {
        i += 1
        return i < args.count ? args[i] : nil
    }
    while i < args.count {
        switch args[i] {
        case "--port": port = Int32(value() ?? "") ?? 0
        case "--host-key": hostKey = value()
        case "--shadow": config.shadowPath = value() ?? config.shadowPath
        case "--passwd": config.passwdPath = value() ?? config.passwdPath
        case "--device-name": config.deviceName = value() ?? config.deviceName
        case "--single-user-hash":
            config.singleUserPasswordHash = value()
            config.forceSingleUser = true
        case "--permit-empty": config.permitEmptyPasswords = true
        case "--builtin-sftp": config.sftpServerPaths = []
        case "--builtin-sftp-runner":
            // Tests under qemu-user without binfmt_misc: run the built-in SFTP server through
            // the emulator, since the kernel cannot exec the ARM binary itself.
            if let runner = value(), let me = realpath("/proc/self/exe", nil) {
                config.builtinSFTP = (runner, [runner, String(cString: me), "sftp-server"])
                free(me)
            }
        case "--socketpair": viaSocketpair = true
        case "--event-loop": useEventLoop = true
        case "--utmp": config.utmpPath = value()
        case "--wtmp": config.wtmpPath = value()
        case "--oracle-key": oracleKey = value()
        case "--keepalive": config.keepaliveIntervalMs = Int64(value() ?? "") ?? 0
        case "--login-grace-ms": config.loginGraceMs = Int64(value() ?? "") ?? 0
        case "--libssh-log": config.libsshLogLevel = Int32(value() ?? "") ?? 0
        case "--verbose": SSHLog.verbose = true
        default:
            Console.err("ssh-serve: unknown option '\(args[i])'")
            return 2
        }
        i += 1
    }
    guard port > 0, let hostKey else {
        Console.err("usage: tether ssh-serve --port N --host-key FILE [--shadow FILE]")
        return 2
    }
    config.hostKeyPath = hostKey
    let server: SSHServer
    do {
        server = try SSHServer(config: config)
    } catch {
        Console.err("ssh-serve: \(error.text)")
        return 1
    }
    let oracle = TestKeyOracle()
    if let oracleKey {
        guard oracle.load(privateKeyPath: oracleKey) else {
            Console.err("ssh-serve: cannot load oracle key \(oracleKey)")
            return 1
        }
        server.oracle = oracle
    }
    let listener = tether_tcp_listen("127.0.0.1", port, 64)
    if listener < 0 {
        Console.err("ssh-serve: cannot listen on 127.0.0.1:\(port) (errno \(-listener))")
        return 1
    }
    Console.out("ssh-serve: listening on 127.0.0.1:\(port)")
    if useEventLoop {
        return serveWithEventLoop(server: server, listener: listener, oracle: oracle)
    }
    var conns: [SSHServerConnection] = []
    var bridges: [SocketBridge] = []
    var peerBuf = [CChar](repeating: 0, count: 64)
    while true {
        var pfds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
        var owner: [Int] = [-1]
        var deadline: Int64? = nil
        for (index, c) in conns.enumerated() {
            var wants: [SSHPollInterest] = []
            c.pollInterests(into: &wants)
            for w in wants {
                pfds.append(pollfd(fd: w.fd, events: w.events, revents: 0))
                owner.append(index)
            }
            if let d = c.nextDeadline { deadline = min(deadline ?? d, d) }
        }
        let firstBridgeFd = pfds.count
        for b in bridges { b.interests(into: &pfds) }
        var timeout: Int32 = -1
        let before = Int64(MonotonicClock.nowMilliseconds())
        if let d = deadline { timeout = Int32(max(0, min(d - before, 60_000))) }
        if server.orphanCount > 0 { timeout = timeout < 0 ? 200 : min(timeout, 200) }
        if oracle.hasQueued { timeout = 0 }
        let n = pfds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeout) }
        if n < 0 && tether_errno() != EINTR { return 1 }
        let now = Int64(MonotonicClock.nowMilliseconds())
        oracle.deliverQueued()

        var due = [Bool](repeating: false, count: conns.count)
        for (k, p) in pfds.enumerated() where k < firstBridgeFd && p.revents != 0 && owner[k] >= 0 {
            due[owner[k]] = true
        }
        if pfds.count > firstBridgeFd && pfds[firstBridgeFd...].contains(where: { $0.revents != 0 }) {
            for b in bridges { b.service() }
            bridges.removeAll { $0.isDone }
        }
        for (index, c) in conns.enumerated() {
            if due[index] || (c.nextDeadline.map { $0 <= now } ?? false) || oracle.touched {
                c.service(now: now)
            }
        }
        oracle.touched = false
        conns.removeAll { $0.state == .closed }
        server.reapOrphans()

        if pfds[0].revents != 0 {
            while true {
                let fd = peerBuf.withUnsafeMutableBufferPointer {
                    tether_tcp_accept(listener, $0.baseAddress, $0.count)
                }
                if fd < 0 { break }
                let peer = String(decoding: peerBuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                do {
                    let c: SSHServerConnection
                    if viaSocketpair {
                        let (conn, streamEnd) = try server.acceptViaSocketpair(peer: peer, now: now)
                        bridges.append(SocketBridge(outer: fd, inner: streamEnd))
                        c = conn
                    } else {
                        c = try server.accept(fd: fd, peer: peer, now: now)
                    }
                    c.service(now: now)
                    conns.append(c)
                } catch {
                    Console.err("ssh-serve: accept: \(error.text)")
                    close(fd)
                }
            }
        }
    }
}

/// `ssh-serve --event-loop`: the listener and every connection on TetherPlatform's EventLoop.
private func serveWithEventLoop(server: SSHServer, listener: Int32, oracle: TestKeyOracle) -> Int {
    let loop = EventLoop()
    let acceptor = SSHServeAcceptor(server: server, loop: loop)
    oracle.onQueued = {
        _ = try? loop.schedule(afterMilliseconds: 0) {
            oracle.deliverQueued()
            for d in acceptor.drivers { d.poke() }
        }
    }
    do {
        try loop.register(fd: listener, interest: .readable, handler: acceptor)
    } catch {
        Console.err("ssh-serve: event loop registration failed")
        return 1
    }
    loop.run()
    return 0
}

/// Accepts TCP connections and gives each an `SSHConnectionDriver`.
private final class SSHServeAcceptor: IOHandler {
    let server: SSHServer
    let loop: EventLoop
    var drivers: [SSHConnectionDriver] = []

    init(server: SSHServer, loop: EventLoop) {
        self.server = server
        self.loop = loop
    }

    func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        var peerBuf = [CChar](repeating: 0, count: 64)
        while true {
            let c = peerBuf.withUnsafeMutableBufferPointer { tether_tcp_accept(fd, $0.baseAddress, $0.count) }
            if c < 0 { return }
            let peer = String(decoding: peerBuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            do {
                let conn = try server.accept(fd: c, peer: peer, now: Int64(MonotonicClock.nowMilliseconds()))
                let driver = SSHConnectionDriver(connection: conn, loop: loop)
                driver.onClosed = { [self] closed in
                    drivers.removeAll { $0.connection === closed }
                }
                drivers.append(driver)
                driver.start()
            } catch {
                Console.err("ssh-serve: accept: \(error.text)")
                close(c)
            }
        }
    }
}
