import CShims

/// A program started for a channel: its pid, a pidfd to learn of its exit without signals
/// (or a waitpid() poll where the kernel lacks pidfd_open), and its exit code once reaped.
final class ChildProcess {
    let pid: pid_t
    private(set) var pidfd: Int32
    private(set) var exitCode: Int32?

    /// Where the child's stdio goes.
    enum Stdio {
        case pty(slave: Int32)
        case pipes(stdin: Int32, stdout: Int32, stderr: Int32)
    }

    enum SpawnError: Error {
        case forkFailed(Int32)
    }

    init(
        path: String, argv: [String], env: [String], account: UserAccount, dropPrivileges: Bool,
        stdio: Stdio
    ) throws(SpawnError) {
        var cArgv = argv.map { strdup($0) }
        cArgv.append(nil)
        var cEnv = env.map { strdup($0) }
        cEnv.append(nil)
        defer {
            for p in cArgv { free(p) }
            for p in cEnv { free(p) }
        }
        let result: pid_t = cArgv.withUnsafeBufferPointer { a in
            cEnv.withUnsafeBufferPointer { e in
                path.withCString { cPath in
                    account.home.withCString { cHome in
                        account.name.withCString { cUser in
                            var spec = tether_spawn()
                            spec.path = cPath
                            spec.argv = a.baseAddress
                            spec.envp = e.baseAddress
                            spec.home = cHome
                            spec.user = cUser
                            spec.uid = account.uid
                            spec.gid = account.gid
                            spec.drop_privileges = dropPrivileges ? 1 : 0
                            spec.close_from = 3
                            switch stdio {
                            case .pty(let slave):
                                spec.pty_slave = slave
                                spec.stdin_fd = -1
                                spec.stdout_fd = -1
                                spec.stderr_fd = -1
                            case .pipes(let i, let o, let err):
                                spec.pty_slave = -1
                                spec.stdin_fd = i
                                spec.stdout_fd = o
                                spec.stderr_fd = err
                            }
                            return tether_spawn(&spec)
                        }
                    }
                }
            }
        }
        if result < 0 { throw .forkFailed(-result) }
        pid = result
        let fd = tether_pidfd_open(result)
        pidfd = fd >= 0 ? fd : -1
    }

    /// Reaps the child if it has exited. Returns true once the exit code is known.
    @discardableResult
    func reap() -> Bool {
        if exitCode != nil { return true }
        var code: Int32 = 0
        let r = tether_ssh_reap(pid, &code)
        if r == 0 { return false }
        // r < 0: already reaped elsewhere or lost; the contract says report 1.
        exitCode = r > 0 ? code : 1
        if pidfd >= 0 {
            close(pidfd)
            pidfd = -1
        }
        return true
    }

    /// SIGKILL to the child's process group (it leads its own session) and the child itself.
    func kill() {
        if exitCode != nil { return }
        _ = CShims.kill(-pid, SIGKILL)
        _ = CShims.kill(pid, SIGKILL)
    }

    /// Closes the pidfd (the pid, if unreaped, becomes the server's orphan).
    func closeFds() {
        if pidfd >= 0 {
            close(pidfd)
            pidfd = -1
        }
    }
}
