import CShims

/// One crypt(3) run in a short-lived forked child. A costly hash (yescrypt, sha512-crypt with
/// many rounds) takes up to seconds of CPU; on the loop thread it would stall every session.
/// The child compares with the expected hash itself (constant time) and answers one byte on a
/// pipe, so the hash it computed never comes back and the answer has a fixed size.
struct PasswordChild {
    enum Verdict: Equatable { case match, mismatch, unsupported, noAnswer }

    /// Read end of the child's pipe: readable once it answered or died.
    let fd: Int32
    let pid: Int32
    /// When the child is killed and the try refused.
    let deadline: Int64

    /// Forks the child that hashes `password` with `hash` as setting and compares with `hash`;
    /// nil when pipe or fork failed. A `decoy` never matches (an unknown user's try).
    static func start(password: String, hash: String, decoy: Bool, now: Int64) -> PasswordChild? {
        var pid: Int32 = 0
        let fd = tether_crypt_start(password, hash, decoy ? 1 : 0, &pid)
        if fd < 0 { return nil }
        return PasswordChild(fd: fd, pid: pid, deadline: now + SSHLimits.passwordCheckMs)
    }

    /// The child's answer, nil while it computes. `giveUp` kills it (deadline, teardown). Once
    /// answered the fd is closed; a child that has not ended yet is left in `orphans`.
    func finish(giveUp: Bool, orphans: inout [pid_t]) -> Verdict? {
        var reaped: Int32 = 0
        let rc = Int(tether_crypt_finish(fd, pid, giveUp ? 1 : 0, &reaped))
        if rc == TETHER_CRYPT_WAIT { return nil }
        if reaped == 0 { orphans.append(pid) }
        switch rc {
        case TETHER_CRYPT_MATCH: return .match
        case TETHER_CRYPT_MISMATCH: return .mismatch
        case TETHER_CRYPT_UNSUPPORTED: return .unsupported
        default: return .noAnswer
        }
    }
}
