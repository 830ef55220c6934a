import CLibSSH
import CShims
import TetherPlatform

/// A `session` channel: pty-req, env, then one of shell / exec / subsystem sftp, whose program
/// runs as the user with its stdio on a pty or on three pipes. On exit: output drained,
/// exit-status, EOF, close (PROTOCOL.md 7.6).
final class SessionChannel: ChannelHandler {
    struct PtyRequest {
        var term: String
        var cols: Int32
        var rows: Int32
        var pxWidth: Int32
        var pxHeight: Int32
    }

    enum Program {
        case shell
        case exec(String)
        case sftp
    }

    /// A program ready to start: what `ChildProcess` needs besides its stdio.
    private struct Launch {
        var path: String
        var argv: [String]
        var env: [String]
        var account: UserAccount
        var drop: Bool

        func spawn(stdio: ChildProcess.Stdio) -> ChildProcess? {
            try? ChildProcess(
                path: path, argv: argv, env: env, account: account, dropPrivileges: drop, stdio: stdio)
        }
    }

    let context: SessionContext
    var pty: PtyRequest?
    var clientEnv: [(String, String)] = []
    var started = false
    var child: ChildProcess?
    var inFd: Int32 = -1   // to the program: pty master or stdin pipe
    var outFd: Int32 = -1  // from the program: pty master or stdout pipe
    var errFd: Int32 = -1  // stderr pipe (no pty)
    var toChild = ByteQueue()
    var clientEOF = false
    var exitCode: Int32?
    var lastProgress: Int64 = 0
    var nextReapCheck: Int64?
    /// The pty's slave path while a utmp login record is open ("/dev/pts/3").
    var loggedInTTY: String?
    /// auth-agent-req@openssh.com watch, and the agent socket once the program runs.
    var agentWatch: UnsafeMutableRawPointer?
    var agentListener: Int32 = -1
    var agentDir: String?

    init(session: OpaquePointer, channel: OpaquePointer, context: SessionContext) {
        self.context = context
        super.init(session: session, channel: channel)
        agentWatch = tether_ssh_watch_agent_request(channel)
    }

    /// Removes the libssh callback before the connection frees the channel.
    func unwatch() {
        if let w = agentWatch {
            tether_ssh_unwatch_agent_request(channel, w)
            agentWatch = nil
        }
    }

    var isPty: Bool { inFd >= 0 && inFd == outFd }

    override func request(_ msg: OpaquePointer, now: Int64) -> Bool {
        let sub = ssh_message_subtype(msg)
        switch sub {
        case Int32(SSH_CHANNEL_REQUEST_PTY.rawValue):
            if started || pty != nil { return false }
            let term = tether_ssh_msg_pty_term(msg).map { String(cString: $0) } ?? "xterm"
            pty = PtyRequest(
                term: term.isEmpty ? "xterm" : term,
                cols: tether_ssh_msg_pty_width(msg), rows: tether_ssh_msg_pty_height(msg),
                pxWidth: tether_ssh_msg_pty_pxwidth(msg), pxHeight: tether_ssh_msg_pty_pxheight(msg))
            return true
        case Int32(SSH_CHANNEL_REQUEST_ENV.rawValue):
            // Before the program starts, accepted and dropped unless LANG/LC_* (as the Go
            // agent): Go clients treat a refused env request as an error ("ssh: setenv
            // failed"). Past the limit, dropped the same way.
            if started { return false }
            guard clientEnv.count < SSHLimits.clientEnvVariables,
                  let n = ssh_message_channel_request_env_name(msg),
                  let v = ssh_message_channel_request_env_value(msg) else { return true }
            let name = String(cString: n)
            let value = String(cString: v)
            guard SessionEnvironment.acceptsClientVariable(name: name, value: value) else {
                return true
            }
            clientEnv.removeAll { $0.0 == name }
            clientEnv.append((name, value))
            return true
        case Int32(SSH_CHANNEL_REQUEST_WINDOW_CHANGE.rawValue):
            guard pty != nil else { return false }
            pty!.cols = tether_ssh_msg_pty_width(msg)
            pty!.rows = tether_ssh_msg_pty_height(msg)
            if isPty {
                _ = tether_set_winsize(
                    inFd, pty!.rows, pty!.cols, tether_ssh_msg_pty_pxwidth(msg),
                    tether_ssh_msg_pty_pxheight(msg))
            }
            return true
        case Int32(SSH_CHANNEL_REQUEST_SHELL.rawValue):
            return start(.shell, now: now)
        case Int32(SSH_CHANNEL_REQUEST_EXEC.rawValue):
            let cmd = ssh_message_channel_request_command(msg).map { String(cString: $0) } ?? ""
            return start(.exec(cmd), now: now)
        case Int32(SSH_CHANNEL_REQUEST_SUBSYSTEM.rawValue):
            let name = ssh_message_channel_request_subsystem(msg).map { String(cString: $0) } ?? ""
            guard name == "sftp" else { return false }
            return start(.sftp, now: now)
        default:
            return false
        }
    }

    private func start(_ program: Program, now: Int64) -> Bool {
        if started { return false }
        if case .exec(let cmd) = program, cmd.isEmpty {
            // Go agent: an empty command ends with status 1 and runs nothing.
            started = true
            exitCode = 1
            lastProgress = now
            return true
        }
        let account = context.account
        let shell = account.shell.isEmpty ? context.config.fallbackShell : account.shell
        guard let (path, argv, usePty) = command(for: program, shell: shell) else { return false }
        let drop = context.dropPrivileges
        var agentPath: String? = nil
        if tether_ssh_agent_requested(agentWatch) != 0 {
            agentPath = openAgentSocket(account: account, drop: drop)
        }
        let env = SessionEnvironment(
            term: pty?.term, account: account, shell: shell, deviceName: context.config.deviceName,
            localeFiles: context.config.localeFiles, clientVariables: clientEnv,
            agentSocket: agentPath
        ).entries()
        let launch = Launch(path: path, argv: argv, env: env, account: account, drop: drop)
        if usePty, let p = pty {
            guard spawnOnPty(launch, size: p) else { return false }
        } else {
            guard spawnOnPipes(launch) else { return false }
        }
        started = true
        lastProgress = now
        if child?.pidfd ?? -1 < 0 { nextReapCheck = now + SSHLimits.reapPollMs }
        SSHLog.debug("started " + argv[0] + " pid " + String(child?.pid ?? 0) + " for " + account.name)
        return true
    }

    /// The program's path and argv, and whether it may have the pty; nil when there is none.
    @inline(__always)
    private func command(for program: Program, shell: String) -> (String, [String], Bool)? {
        switch program {
        case .shell:
            // A leading '-' in argv[0] makes every shell (bash, dash, ash) a login shell.
            return (shell, ["-" + String(shell.split(separator: "/").last ?? "sh")], pty != nil)
        case .exec(let cmd):
            return (shell, [shell, "-c", cmd], pty != nil)
        case .sftp:
            if let server = context.config.sftpServerPaths.first(where: { access($0, X_OK) == 0 }) {
                return (server, [server], false)
            }
            if let builtin = context.config.builtinSFTP { return (builtin.path, builtin.argv, false) }
            SSHLog.info("sftp: no sftp-server on this system")
            return nil
        }
    }

    /// Runs the program on a new pty (its login recorded in utmp); false when it could not.
    @inline(__always)
    private func spawnOnPty(_ launch: Launch, size p: PtyRequest) -> Bool {
        var master: Int32 = -1
        var slave: Int32 = -1
        let rc = tether_openpty(&master, &slave, p.rows, p.cols)
        guard rc == 0 else {
            SSHLog.info("pty: openpty failed: " + Errno.text(-rc))
            return false
        }
        if launch.drop { _ = fchown(slave, launch.account.uid, launch.account.gid) }
        child = launch.spawn(stdio: .pty(slave: slave))
        close(slave)
        guard child != nil else {
            close(master)
            SSHLog.info("spawn failed for " + launch.account.name)
            return false
        }
        inFd = master
        outFd = master
        var name = [CChar](repeating: 0, count: 64)
        if tether_ptsname(master, &name, 64) == 0, let c = child {
            let tty = String(decodingCString: name)
            _ = tether_utmp_record(
                context.config.utmpPath, context.config.wtmpPath, 1, c.pid, tty, launch.account.name,
                "ShellHub")
            loggedInTTY = tty
        }
        return true
    }

    /// Runs the program on three pipes; false when it could not.
    @inline(__always)
    private func spawnOnPipes(_ launch: Launch) -> Bool {
        var i: [Int32] = [-1, -1]
        var o: [Int32] = [-1, -1]
        var e: [Int32] = [-1, -1]
        guard tether_pipe(&i, 1) == 0 else { return false }
        guard tether_pipe(&o, 0) == 0 else {
            close(i[0]); close(i[1])
            return false
        }
        guard tether_pipe(&e, 0) == 0 else {
            close(i[0]); close(i[1]); close(o[0]); close(o[1])
            return false
        }
        child = launch.spawn(stdio: .pipes(stdin: i[0], stdout: o[1], stderr: e[1]))
        close(i[0]); close(o[1]); close(e[1])
        guard child != nil else {
            close(i[1]); close(o[0]); close(e[0])
            SSHLog.info("spawn failed for " + launch.account.name)
            return false
        }
        inFd = i[1]
        outFd = o[0]
        errFd = e[0]
        return true
    }

    /// A private directory with a listening socket for SSH_AUTH_SOCK, owned by the user.
    private func openAgentSocket(account: UserAccount, drop: Bool) -> String? {
        var template = Array("/tmp/tether-agent-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { return nil }
        let dir = String(decodingCString: template)
        let path = dir + "/agent.sock"
        let fd = tether_unix_listen(path)
        guard fd >= 0 else {
            rmdir(dir)
            return nil
        }
        if drop {
            _ = chown(dir, account.uid, account.gid)
            _ = chown(path, account.uid, account.gid)
        }
        agentListener = fd
        agentDir = dir
        return path
    }

    private func closeAgentSocket() {
        if agentListener >= 0 { close(agentListener) }
        agentListener = -1
        if let dir = agentDir {
            unlink(dir + "/agent.sock")
            rmdir(dir)
            agentDir = nil
        }
    }

    override func interests(into list: inout [SSHPollInterest], sshWritable: Bool) {
        guard started, !finished else { return }
        if agentListener >= 0 { list.append(SSHPollInterest(fd: agentListener, events: Int16(POLLIN))) }
        let readOut = sshWritable && channel.map { ssh_channel_window_size($0) > 0 } ?? false
        if isPty {
            var ev: Int16 = readOut ? Int16(POLLIN) : 0
            if !toChild.isEmpty { ev |= Int16(POLLOUT) }
            if ev != 0 { list.append(SSHPollInterest(fd: inFd, events: ev)) }
        } else {
            if inFd >= 0 && !toChild.isEmpty { list.append(SSHPollInterest(fd: inFd, events: Int16(POLLOUT))) }
            if readOut && outFd >= 0 { list.append(SSHPollInterest(fd: outFd, events: Int16(POLLIN))) }
            if readOut && errFd >= 0 { list.append(SSHPollInterest(fd: errFd, events: Int16(POLLIN))) }
        }
        if let c = child, c.exitCode == nil, c.pidfd >= 0 {
            list.append(SSHPollInterest(fd: c.pidfd, events: Int16(POLLIN)))
        }
    }

    override var deadline: Int64? {
        guard started, !finished else { return nil }
        if exitCode != nil { return lastProgress + SSHLimits.drainAfterExitMs }
        return nextReapCheck
    }

    override func service(now: Int64, scratch: UnsafeMutableRawBufferPointer) {
        guard let ch = channel, !finished else { return }
        if ssh_channel_is_closed(ch) != 0 {
            // The client closed the channel: nothing more can be delivered.
            abortChild()
            finished = true
            return
        }
        guard started else { return }

        acceptAgentConnections(now: now)

        // Client → program.
        if inFd >= 0 && !clientEOF {
            switch ChannelPump.channelToFd(channel: ch, fd: inFd, pending: &toChild, scratch: scratch) {
            case .eof:
                clientEOF = true
                if !isPty { closeFd(&inFd) }
            case .fdClosed:
                if !isPty { closeFd(&inFd) }
            case .idle, .blocked, .failed:
                break
            }
        } else if inFd < 0 || clientEOF {
            // Keep draining what the client sends so its window does not stall.
            while ssh_channel_read_nonblocking(ch, scratch.baseAddress, UInt32(scratch.count), 0) > 0 {}
        }

        // Program → client.
        var moved = 0
        if outFd >= 0 {
            if ChannelPump.fdToChannel(
                session: session, channel: ch, fd: outFd, stderr: false, scratch: scratch,
                moved: &moved) == .eof
            {
                if isPty { inFd = -1 }
                closeFd(&outFd)
            }
        }
        if errFd >= 0 {
            if ChannelPump.fdToChannel(
                session: session, channel: ch, fd: errFd, stderr: true, scratch: scratch,
                moved: &moved) == .eof
            {
                closeFd(&errFd)
            }
        }
        if moved > 0 { lastProgress = now }

        finishOnExit(channel: ch, now: now)
    }

    /// Agent connections from the program: each becomes an auth-agent@openssh.com channel,
    /// within the connection's channel limit (beyond it the program's agent client sees the
    /// connection closed at once).
    @inline(__always)
    private func acceptAgentConnections(now: Int64) {
        while agentListener >= 0 {
            let fd = tether_tcp_accept(agentListener, nil, 0)
            if fd < 0 { break }
            if context.channelRoom <= 0 {
                SSHLog.info("agent connection refused: " + String(SSHLimits.channelsPerConnection) + " channels open")
                close(fd)
                continue
            }
            context.channelRoom -= 1
            context.newHandlers.append(ForwardChannel(session: session, agentSocket: fd, now: now))
        }
    }

    /// Once the program exited: exit-status when its output is drained, or at the drain limit.
    @inline(__always)
    private func finishOnExit(channel ch: OpaquePointer, now: Int64) {
        if let c = child, exitCode == nil {
            if c.reap() {
                exitCode = c.exitCode
                lastProgress = now
            } else if c.pidfd < 0 {
                nextReapCheck = now + SSHLimits.reapPollMs
            }
        }
        if let code = exitCode {
            let outputDone = outFd < 0 && errFd < 0
            if outputDone || now >= lastProgress + SSHLimits.drainAfterExitMs {
                finish(channel: ch, code: code)
            }
        }
    }

    private func finish(channel ch: OpaquePointer, code: Int32) {
        _ = ssh_channel_request_send_exit_status(ch, code)
        _ = ssh_channel_send_eof(ch)
        _ = ssh_channel_close(ch)
        closeAll()
        child?.closeFds()
        finished = true
        SSHLog.debug("channel done, status " + String(code))
    }

    private func abortChild() {
        if let c = child, !c.reap() {
            c.kill()
            if !c.reap() { orphan = c.pid }
        }
        child?.closeFds()
        closeAll()
    }

    override func abort() {
        finished = true
        abortChild()
    }

    private func logout() {
        guard let tty = loggedInTTY, let c = child else { return }
        loggedInTTY = nil
        _ = tether_utmp_record(context.config.utmpPath, context.config.wtmpPath, 0, c.pid, tty, nil, nil)
    }

    private func closeAll() {
        logout()
        closeAgentSocket()
        if isPty {
            closeFd(&inFd)
            outFd = -1
        } else {
            closeFd(&inFd)
            closeFd(&outFd)
        }
        closeFd(&errFd)
    }

    private func closeFd(_ fd: inout Int32) {
        if fd >= 0 { close(fd) }
        fd = -1
    }
}
