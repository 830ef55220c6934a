import CLibSSH
import CShims
import TetherPlatform

/// One connection's authentication (RFC 4252): `none`, `password` (the shadow file's hash or
/// the single-user hash, hashed by a crypt child in the server's queue) and `publickey` (RSA
/// keys the hub's oracle signs for), the failures tolerated and the login grace. It answers
/// the auth messages it is given and tells the connection what follows (`Step`); the
/// connection keeps the state, the session and the oracle call.
final class SSHAuthPolicy {
    /// What the connection does after a decision.
    enum Step {
        /// Nothing; the message was answered (from `authenticate`: the caller frees it).
        case done
        /// The message is kept until a password check has decided.
        case wait
        /// Accepted: the connection opens for `user`, its sessions running as `account`.
        case open(user: String, account: UserAccount)
        /// Too many failures: the connection ends.
        case giveUp
        /// The message is kept; the hub's oracle must sign `request` and its answer goes to
        /// `keyAnswered`.
        case askOracle(PublicKeyOracleRequest)
    }

    private struct PendingKeyAuth {
        var message: OpaquePointer
        var blob: [UInt8]
        var data: String
        var isQuery: Bool
        var account: UserAccount
        var user: String
    }

    private let server: SSHServer
    private let peer: String
    private let startedAt: Int64
    private var accepted = false
    private var failures = 0
    private var oracleCalls = 0
    private var keyVerdicts: [(blob: [UInt8], accepted: Bool)] = []
    private var pendingKey: PendingKeyAuth?
    private var pendingPassword: PendingPassword?

    init(server: SSHServer, peer: String, startedAt: Int64) {
        self.server = server
        self.peer = peer
        self.startedAt = startedAt
    }

    /// When an unauthenticated connection is given up (nil once accepted, or no limit): the
    /// whole way from the connection's start to a successful authentication has one limit.
    var loginDeadline: Int64? {
        guard !accepted, server.config.loginGraceMs > 0 else { return nil }
        return startedAt + server.config.loginGraceMs
    }

    /// A password check is in line or running.
    var checkingPassword: Bool { pendingPassword != nil }
    /// The running crypt child's pipe and deadline.
    var passwordChild: PasswordChild? { pendingPassword?.child }

    // MARK: Requests

    /// Answers one auth request (now, or with `.wait` and `.askOracle` once a check is done).
    func authenticate(_ msg: OpaquePointer, now: Int64) -> Step {
        let user = ssh_message_auth_user(msg).map { String(cString: $0) } ?? ""
        switch ssh_message_subtype(msg) {
        case Int32(SSH_AUTH_METHOD_PASSWORD):
            return authenticatePassword(msg, user: user, now: now)
        case Int32(SSH_AUTH_METHOD_PUBLICKEY):
            return authenticateKey(msg, user: user)
        default:
            // `none` and anything else: failure listing publickey,password (not counted).
            return refuse(msg, user: user, method: "none", nil)
        }
    }

    @inline(__always)
    private func authenticatePassword(_ msg: OpaquePointer, user: String, now: Int64) -> Step {
        guard pendingPassword == nil, pendingKey == nil else {
            return refuse(msg, user: user, method: "password", .checkPending)
        }
        let password = tether_ssh_msg_auth_password(msg).map { String(cString: $0) } ?? ""
        let shadow = ShadowFile(path: server.config.shadowPath)
        guard let acct = account(for: user) else {
            var decoy: String?
            if case .noSuchUser(let d) = shadow.lookup(user) { decoy = d }
            return checkPassword(msg, user: user, account: nil, password: password, setting: decoy, now: now)
        }
        let hash: String
        if server.singleUser {
            guard let h = server.config.singleUserPasswordHash else {
                return refuse(msg, user: user, method: "password", .lockedAccount)
            }
            hash = h
        } else {
            switch shadow.lookup(user) {
            case .hash(let h): hash = h
            case .noSuchUser(let decoy):
                return checkPassword(msg, user: user, account: nil, password: password, setting: decoy, now: now)
            case .unreadable:
                return refuse(msg, user: user, method: "password", .shadowUnreadable)
            }
        }
        switch PasswordCheck.plan(password: password, hash: hash, permitEmpty: server.config.permitEmptyPasswords) {
        case .accept: return accept(msg, user: user, account: acct, method: "password")
        case .refuse(let why): return refuse(msg, user: user, method: "password", why)
        case .crypt: return checkPassword(msg, user: user, account: acct, password: password, setting: hash, now: now)
        }
    }

    @inline(__always)
    private func authenticateKey(_ msg: OpaquePointer, user: String) -> Step {
        guard pendingPassword == nil else {
            return refuse(msg, user: user, method: "publickey", .checkPending)
        }
        let keyState = tether_ssh_msg_auth_pubkey_state(msg)
        let isQuery = keyState == Int32(SSH_PUBLICKEY_STATE_NONE.rawValue)
        guard isQuery || keyState == Int32(SSH_PUBLICKEY_STATE_VALID.rawValue) else {
            return refuse(msg, user: user, method: "publickey", .badSignature)
        }
        guard let key = tether_ssh_msg_auth_pubkey(msg), ssh_key_type(key) == SSH_KEYTYPE_RSA else {
            return refuse(msg, user: user, method: "publickey", .keyNotRSA)
        }
        guard let acct = account(for: user) else {
            return refuse(msg, user: user, method: "publickey", missingAccount(user))
        }
        guard let blob = Self.blob(of: key) else {
            return refuse(msg, user: user, method: "publickey", .keyNotRSA)
        }
        if let known = keyVerdicts.first(where: { $0.blob == blob }) {
            return answerKey(msg, isQuery: isQuery, accepted: known.accepted, user: user, account: acct)
        }
        guard server.oracle != nil else {
            return refuse(msg, user: user, method: "publickey", .oracleUnavailable)
        }
        guard oracleCalls < SSHLimits.oracleCallsPerConnection, pendingKey == nil else {
            return refuse(msg, user: user, method: "publickey", .oracleBudgetSpent)
        }
        oracleCalls += 1
        let data = PublicKeyProof.signedData(user: user, deviceName: server.config.deviceName)
        pendingKey = PendingKeyAuth(
            message: msg, blob: blob, data: data, isQuery: isQuery, account: acct, user: user)
        return .askOracle(
            PublicKeyOracleRequest(
                fingerprint: PublicKeyProof.md5Fingerprint(blob: blob), data: data, user: user))
    }

    /// The key's wire blob (what the hub's fingerprint and signature are over).
    private static func blob(of key: OpaquePointer) -> [UInt8]? {
        var b64 = [CChar](repeating: 0, count: SSHLimits.keyBlobBytes * 2)
        let rc = b64.withUnsafeMutableBufferPointer { tether_ssh_key_base64(key, $0.baseAddress, $0.count) }
        guard rc == 0 else { return nil }
        return PublicKeyProof.base64Decode(String(decodingCString: b64))
    }

    private func answerKey(
        _ msg: OpaquePointer, isQuery: Bool, accepted: Bool, user: String, account: UserAccount
    ) -> Step {
        if !accepted { return refuse(msg, user: user, method: "publickey", .oracleRefused) }
        if !isQuery { return accept(msg, user: user, account: account, method: "publickey") }
        _ = ssh_message_auth_reply_pk_ok_simple(msg)
        return .done
    }

    /// The oracle's signature (nil: refused or failed) for the key waiting for it: answers and
    /// frees its message. Nil when no key waits.
    func keyAnswered(_ signature: String?) -> Step? {
        guard let p = pendingKey else { return nil }
        pendingKey = nil
        var ok = false
        if let s = signature, let sig = PublicKeyProof.base64Decode(s) {
            ok = PublicKeyProof.verify(signature: sig, data: Array(p.data.utf8), blob: p.blob)
            if !ok { SSHLog.info("auth publickey: hub signature does not verify") }
        }
        keyVerdicts.append((blob: p.blob, accepted: ok))
        let step = answerKey(p.message, isQuery: p.isQuery, accepted: ok, user: p.user, account: p.account)
        ssh_message_free(p.message)
        return step
    }

    // MARK: Answers

    private func refuse(_ msg: OpaquePointer, user: String, method: String, _ why: SSHAuthRefusal?) -> Step {
        if let why {
            failures += 1
            SSHLog.info("auth " + method + " for '" + user + "' from " + peer + " refused: " + why.text)
        }
        _ = ssh_message_auth_set_methods(msg, Int32(SSH_AUTH_METHOD_PUBLICKEY | SSH_AUTH_METHOD_PASSWORD))
        _ = ssh_message_reply_default(msg)
        return failures >= SSHLimits.authFailuresPerConnection ? .giveUp : .done
    }

    private func accept(_ msg: OpaquePointer, user: String, account: UserAccount, method: String) -> Step {
        _ = ssh_message_auth_reply_success(msg, 0)
        accepted = true
        SSHLog.info("auth " + method + " for '" + user + "' from " + peer + " accepted")
        return .open(user: user, account: account)
    }

    // MARK: Accounts

    /// Why `account(for:)` found none: no such user, or the passwd file unreadable.
    private func missingAccount(_ user: String) -> SSHAuthRefusal {
        if server.singleUser { return .unknownUser }
        if case .unreadable(let e) = PasswdFile(path: server.config.passwdPath).lookup(user) {
            return .passwdUnreadable(errno: e)
        }
        return .unknownUser
    }

    /// The account sessions run as, or nil.
    private func account(for user: String) -> UserAccount? {
        let passwd = PasswdFile(path: server.config.passwdPath)
        if server.singleUser {
            let uid = getuid()
            if let own = passwd.account(uid: uid) { return own }
            let home = tether_getenv("HOME").map { String(cString: $0) } ?? "/"
            let shell = tether_getenv("SHELL").map { String(cString: $0) } ?? server.config.fallbackShell
            return UserAccount(name: user, uid: uid, gid: getgid(), home: home, shell: shell)
        }
        return passwd.account(named: user)
    }

    // MARK: Password checks

    /// Keeps the message until crypt has decided: `account` nil is a user that does not exist,
    /// whose password is hashed all the same (with `setting`, a real account's hash, or the
    /// fallback decoy) and then refused.
    private func checkPassword(_ msg: OpaquePointer, user: String, account: UserAccount?,
                               password: String, setting: String?, now: Int64) -> Step {
        let p = PendingPassword(
            message: msg, user: user, account: account, password: password,
            setting: setting ?? PasswordCheck.fallbackDecoy)
        pendingPassword = p
        if var last = server.cryptQueue {
            while let n = last.next { last = n }
            last.next = p
        } else {
            server.cryptQueue = p
        }
        // Answered at once when no child could start; the caller frees the message then.
        return answerPassword(now: now, freeMessage: false) ?? .wait
    }

    /// Starts the crypt child when this try is first in line and one is free; answers the try
    /// (and frees its message) once the child did, or at its deadline, killing it.
    func servicePassword(now: Int64) -> Step {
        answerPassword(now: now, freeMessage: true) ?? .done
    }

    private func answerPassword(now: Int64, freeMessage: Bool) -> Step? {
        guard let p = pendingPassword, let (verdict, timedOut) = verdict(of: p, now: now) else { return nil }
        pendingPassword = nil
        var refusal: SSHAuthRefusal?
        switch verdict {
        case .match: refusal = nil
        case .mismatch: refusal = .wrongPassword
        case .unsupported: refusal = .unsupportedHash
        case .noAnswer: refusal = timedOut ? .passwordCheckTimedOut : .passwordCheckFailed
        }
        let step: Step
        if let acct = p.account, refusal == nil {
            step = accept(p.message, user: p.user, account: acct, method: "password")
        } else {
            step = refuse(p.message, user: p.user, method: "password", p.account == nil ? missingAccount(p.user) : refusal)
        }
        if freeMessage { ssh_message_free(p.message) }
        return step
    }

    /// The try's verdict once there is one (nil while in line or computing): its child's, or
    /// `.noAnswer` when no child could start.
    @inline(__always)
    private func verdict(of p: PendingPassword, now: Int64) -> (PasswordChild.Verdict, timedOut: Bool)? {
        if let child = p.child {
            let timedOut = now >= child.deadline
            guard let v = child.finish(giveUp: timedOut, orphans: &server.orphans) else { return nil }
            releaseCryptChild()
            return (v, timedOut)
        }
        guard server.cryptQueue === p, server.cryptRunning < SSHLimits.passwordChildren else { return nil }
        server.cryptQueue = p.next
        p.next = nil
        if let child = PasswordChild.start(password: p.password, hash: p.setting, decoy: p.account == nil, now: now) {
            server.cryptRunning += 1
            p.child = child
            p.password = ""
            // The next in line may fit too; it learns so from the wake-up.
            if server.cryptQueue != nil { server.wakePending = true }
            return nil
        }
        if server.cryptQueue != nil { server.wakePending = true }
        return (.noAnswer, false)
    }

    private func releaseCryptChild() {
        server.cryptRunning -= 1
        if server.cryptQueue != nil { server.wakePending = true }
    }

    // MARK: Teardown

    /// The connection ends: frees the kept messages, kills the crypt child or leaves the line.
    func cancel() {
        if let p = pendingKey {
            ssh_message_free(p.message)
            pendingKey = nil
        }
        guard let p = pendingPassword else { return }
        pendingPassword = nil
        if let c = p.child {
            _ = c.finish(giveUp: true, orphans: &server.orphans)
            releaseCryptChild()
        } else if server.cryptQueue === p {
            server.cryptQueue = p.next
        } else {
            var q = server.cryptQueue
            while let c = q, c.next !== p { q = c.next }
            q?.next = p.next
        }
        p.next = nil
        ssh_message_free(p.message)
    }
}
