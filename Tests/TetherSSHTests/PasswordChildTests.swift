import Glibc
import Testing
@testable import TetherSSH

/// crypt in a forked child (PasswordChild, tether_crypt_start/finish): what the connection
/// runs for each password try instead of hashing on the loop thread.
@Suite struct PasswordChildTests {
    static let sha512 = PasswordCheckTests.vectors[2].1  // "$6$saltsalt$..." of "secret"

    /// Starts a child and waits for its answer the way the loop does (poll, then finish).
    static func run(password: String, hash: String, decoy: Bool = false, giveUpAfterMs: Int32 = 10_000)
        -> PasswordChild.Verdict?
    {
        guard let child = PasswordChild.start(password: password, hash: hash, decoy: decoy, now: 0)
        else { return nil }
        var orphans: [pid_t] = []
        var pfd = pollfd(fd: child.fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, giveUpAfterMs)
        if ready == 1, let v = child.finish(giveUp: false, orphans: &orphans) { return reap(v, &orphans) }
        return reap(child.finish(giveUp: true, orphans: &orphans), &orphans)
    }

    /// Waits for a child that answered but had not exited yet (the loop's orphan list).
    static func reap(_ v: PasswordChild.Verdict?, _ orphans: inout [pid_t]) -> PasswordChild.Verdict? {
        for pid in orphans {
            var status: Int32 = 0
            #expect(waitpid(pid, &status, 0) == pid)
        }
        return v
    }

    @Test func rightAndWrongPasswordWithSHA512() {
        #expect(Self.run(password: "secret", hash: Self.sha512) == .match)
        #expect(Self.run(password: "Secret", hash: Self.sha512) == .mismatch)
    }

    @Test func unsupportedSettingIsReported() {
        #expect(Self.run(password: "secret", hash: "$9$nope$nope") == .unsupported)
    }

    /// The compare in the child keeps the whole length difference: a stored hash that is the
    /// right one plus 256 more bytes (crypt reads only its salt) does not match.
    @Test func longerStoredHashDoesNotMatch() {
        let longer = Self.sha512 + String(repeating: "a", count: 256)
        #expect(PasswordCheck.crypt(password: "secret", setting: longer) == Self.sha512)
        #expect(Self.run(password: "secret", hash: longer) == .mismatch)
    }

    /// The answer comes later: right after the start of a costly hash there is none yet, and
    /// the child is killed and reaped when given up (the connection's deadline).
    @Test func costlyHashIsAnsweredLaterAndCanBeGivenUp() {
        let slow = "$6$rounds=50000000$somesalt"
        guard let child = PasswordChild.start(password: "x", hash: slow, decoy: false, now: 5)
        else { Issue.record("fork failed"); return }
        #expect(child.deadline == 5 + SSHLimits.passwordCheckMs)
        var orphans: [pid_t] = []
        #expect(child.finish(giveUp: false, orphans: &orphans) == nil)
        #expect(child.finish(giveUp: true, orphans: &orphans) == .noAnswer)
        for pid in orphans {
            var status: Int32 = 0
            #expect(waitpid(pid, &status, 0) == pid)
            #expect((status & 0x7f) == SIGKILL)
        }
        #expect(kill(child.pid, 0) != 0)  // gone
    }

    /// The child keeps no copy of the agent's other descriptors: the read end of a pipe whose
    /// write end the parent closes sees EOF at once, while the child is still hashing.
    @Test func childClosesOtherDescriptors() {
        var p: [Int32] = [-1, -1]
        #expect(pipe(&p) == 0)
        // So that programs exec'd by tests running in parallel do not keep it.
        _ = fcntl(p[1], F_SETFD, FD_CLOEXEC)
        let slow = "$6$rounds=50000000$somesalt"
        guard let child = PasswordChild.start(password: "x", hash: slow, decoy: false, now: 0)
        else { Issue.record("fork failed"); return }
        close(p[1])
        var pfd = pollfd(fd: p[0], events: Int16(POLLIN), revents: 0)
        #expect(poll(&pfd, 1, 2_000) == 1)
        var b: UInt8 = 0
        #expect(read(p[0], &b, 1) == 0)
        close(p[0])
        var orphans: [pid_t] = []
        #expect(child.finish(giveUp: true, orphans: &orphans) == .noAnswer)
        _ = Self.reap(nil, &orphans)
    }
}
