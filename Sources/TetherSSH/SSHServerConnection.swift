import CLibSSH
import CShims
import TetherPlatform

/// One SSH connection (one session slot), served by libssh in non-blocking mode and driven
/// by any poll loop:
///
///     var wants: [SSHPollInterest] = []
///     conn.pollInterests(into: &wants)      // fds + POLLIN/POLLOUT it needs
///     let deadline = conn.nextDeadline      // monotonic ms, or nil
///     ... poll(...) ...
///     conn.service(now: ms)                 // after any of its fds fired or the deadline
///     if conn.isClosed { drop it }
///
/// State machine in the style of tmate: one state, advanced on SSH_OK, parked on SSH_AGAIN,
/// torn down on SSH_ERROR. There is no separate timeout before the client's first bytes (the
/// hub may start SSH minutes after opening the stream); the whole way from start to a
/// successful authentication has one limit, `SSHServerConfig.loginGraceMs`.
public final class SSHServerConnection {
    public enum State: Equatable {
        case keyExchange
        case authenticating
        case open
        case closed
    }

    public let fd: Int32
    public let peer: String
    public private(set) var state: State = .keyExchange
    /// Why the connection ended (for the log and tests).
    public private(set) var closeReason: String?
    /// The authenticated user.
    public private(set) var user: String?
    public let startedAt: Int64
    public private(set) var authenticatedAt: Int64?

    let server: SSHServer
    let session: OpaquePointer
    var account: UserAccount?
    var context: SessionContext?
    var handlers: [ChannelHandler] = []
    var authFailures = 0
    var oracleCalls = 0
    var keyVerdicts: [(blob: [UInt8], accepted: Bool)] = []
    var pendingKey: PendingKeyAuth?
    var ticket: PublicKeyOracleTicket?
    var pendingPassword: PendingPassword?
    /// `direct-tcpip` opens waiting for their host name to resolve (the message is answered
    /// once the connect starts, or refused).
    var pendingForwards: [PendingForward] = []
    var nextKeepalive: Int64?
    /// Channels counted against `SSHLimits.channelsPerConnection`.
    var channelsInUse: Int { handlers.count + pendingForwards.count + (context?.newHandlers.count ?? 0) }
    /// Channels that ran to their end on this connection.
    var channelsEnded = 0
    /// The server's shared pump buffer.
    var scratch: UnsafeMutableRawBufferPointer { server.scratch }

    struct PendingKeyAuth {
        var message: OpaquePointer
        var blob: [UInt8]
        var data: String
        var isQuery: Bool
        var account: UserAccount
        var user: String
    }

    /// Failed authentications tolerated on one connection (ShellHub sends one).
    public static let maxAuthFailures = 6

    init(server: SSHServer, fd: Int32, peer: String, now: Int64) throws(SSHError) {
        guard let session = ssh_new() else { throw .libraryAllocationFailed }
        _ = tether_set_nonblocking(fd)
        if ssh_bind_accept_fd(server.bind, session, fd) != SSH_OK {
            let why = String(cString: ssh_get_error(UnsafeMutableRawPointer(server.bind)))
            ssh_free(session)
            throw .acceptFailed(why)
        }
        ssh_set_blocking(session, 0)
        self.server = server
        self.session = session
        self.fd = fd
        self.peer = peer
        startedAt = now
        SSHLog.debug("conn " + peer + ": start")
    }

    deinit {
        ticket?.cancel()
        if state != .closed { teardown("released") }
    }

    // MARK: Loop interface

    /// The fds and poll events this connection waits for.
    public func pollInterests(into list: inout [SSHPollInterest]) {
        if state == .closed { return }
        let writePending = (ssh_get_poll_flags(session) & SSH_WRITE_PENDING) != 0
        var ev = Int16(POLLIN)
        if writePending { ev |= Int16(POLLOUT) }
        list.append(SSHPollInterest(fd: fd, events: ev))
        if let c = pendingPassword?.child { list.append(SSHPollInterest(fd: c.fd, events: Int16(POLLIN))) }
        for h in handlers { h.interests(into: &list, sshWritable: !writePending) }
    }

    /// Earliest monotonic time (ms) at which `service` must run even without fd events.
    public var nextDeadline: Int64? {
        if state == .closed { return nil }
        var d = nextKeepalive
        if let grace = loginDeadline { d = min(d ?? grace, grace) }
        if let c = pendingPassword?.child { d = min(d ?? c.deadline, c.deadline) }
        for h in handlers {
            if let hd = h.deadline { d = min(d ?? hd, hd) }
        }
        return d
    }

    /// When an unauthenticated connection is given up (nil once authenticated, or no limit).
    private var loginDeadline: Int64? {
        guard state == .keyExchange || state == .authenticating, server.config.loginGraceMs > 0
        else { return nil }
        return startedAt + server.config.loginGraceMs
    }

    /// Advances everything that can advance without blocking.
    public func service(now: Int64) {
        if state == .closed { return }
        if let grace = loginDeadline, now >= grace {
            teardown("not authenticated within " + String(server.config.loginGraceMs / 1000) + " s")
            return
        }
        if state == .keyExchange {
            let rc = ssh_handle_key_exchange(session)
            if rc == SSH_AGAIN { return }
            if rc != SSH_OK {
                let err = lastError
                if Self.isCloseRequestBanner(err) {
                    // The gateway gave the stream up before starting SSH on it (the user's
                    // login failed on its side) and wrote its close request instead.
                    teardown("closed by the server before SSH started")
                } else {
                    teardown("key exchange: " + err)
                }
                return
            }
            state = .authenticating
            SSHLog.debug("conn " + peer + ": keys exchanged")
        }
        if pendingPassword != nil { servicePassword(now: now) }
        _ = ssh_blocking_flush(session, 0)
        // Before the message loop: collecting a keepalive reply reads packets, and what
        // they queue is taken by the loop below.
        let interval = server.config.keepaliveIntervalMs
        if interval > 0 && state == .open {
            if let due = nextKeepalive, now >= due {
                // keepalive@openssh.com, want_reply 1. ShellHub takes any global request named
                // keepalive* and forwards keepalive@shellhub.io to the user's client
                // (server/ssh/session/session.go). One per interval at most: a reply still
                // outstanding from the last one means this interval sends nothing.
                _ = tether_ssh_keepalive(session)
                nextKeepalive = nil
            }
        }
        while state != .closed, let msg = ssh_message_get(session) {
            if !dispatch(msg, now: now) { ssh_message_free(msg) }
        }
        if interval > 0 && state == .open && nextKeepalive == nil {
            // On a grid of the interval (monotonic clock): every session's keepalive falls due
            // in the same wake-up, one burst per interval however many sessions. Set after the
            // message loop, which is where the connection becomes open.
            nextKeepalive = (now / interval + 1) * interval
        }
        if state == .closed { return }
        if state == .open { serviceChannels(now: now) }
        let status = ssh_get_status(session)
        if (status & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0 || ssh_is_connected(session) == 0 {
            let err = lastError
            let byPeer = (status & SSH_CLOSED_ERROR) == 0 || err.hasPrefix("Received SSH_MSG_DISCONNECT")
            if !byPeer && afterLastChannel {
                // ShellHub's gateway writes `DELETE /ssh/close/<uid> HTTP/1.1...` into the
                // stream once its session ended (PROTOCOL.md 6): not SSH, and not an error.
                SSHLog.debug("conn " + peer + ": bytes after the last channel ended: " + err)
                teardown("closed by peer after the session ended")
            } else {
                teardown(byPeer ? "closed by peer" : "connection error: " + err)
            }
            return
        }
    }

    /// libssh's "No version of SSH protocol usable (banner: DELETE /ssh/close/...)": the peer's
    /// first line was ShellHub's close request, not an SSH version.
    static func isCloseRequestBanner(_ error: String) -> Bool {
        let needle = Array("(banner: DELETE /ssh/close/".utf8)
        let hay = Array(error.utf8)
        guard hay.count >= needle.count else { return false }
        for start in 0...(hay.count - needle.count) where hay[start] == needle[0] {
            if Array(hay[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }

    /// Every channel that was opened has ended: anything the peer sends now is past the session.
    var afterLastChannel: Bool { state == .open && handlers.isEmpty && channelsEnded > 0 }

    /// Ends the connection now (close protocol, shutdown): children are killed.
    public func close(reason: String) {
        if state != .closed { teardown(reason) }
    }

    /// Open channels (sessions and forwardings).
    public var channelCount: Int { handlers.count }

    // MARK: Messages

    private var lastError: String {
        String(cString: ssh_get_error(UnsafeMutableRawPointer(session)))
    }

    /// Handles one libssh message. Returns true when the message is kept for a later answer.
    private func dispatch(_ msg: OpaquePointer, now: Int64) -> Bool {
        let type = ssh_message_type(msg)
        switch type {
        case Int32(SSH_REQUEST_AUTH.rawValue):
            if state == .open {
                // RFC 4252 5.1: requests after success are ignored.
                return false
            }
            return authenticate(msg, now: now)
        case Int32(SSH_REQUEST_SERVICE.rawValue):
            _ = ssh_message_service_reply_success(msg)
            return false
        case Int32(SSH_REQUEST_CHANNEL_OPEN.rawValue):
            guard state == .open else {
                _ = ssh_message_reply_default(msg)
                return false
            }
            return openChannel(msg, now: now)
        case Int32(SSH_REQUEST_CHANNEL.rawValue):
            guard state == .open, let ch = ssh_message_channel_request_channel(msg),
                  let h = handlers.first(where: { $0.channel == ch })
            else {
                _ = ssh_message_reply_default(msg)
                return false
            }
            if h.request(msg, now: now) {
                _ = ssh_message_channel_request_reply_success(msg)
            } else {
                _ = ssh_message_reply_default(msg)
            }
            return false
        case Int32(SSH_REQUEST_GLOBAL.rawValue):
            // tcpip-forward and everything else: refused. keepalive@openssh.com: success.
            if ssh_message_subtype(msg) == Int32(SSH_GLOBAL_REQUEST_KEEPALIVE.rawValue) {
                _ = ssh_message_global_request_reply_success(msg, 0)
            } else {
                _ = ssh_message_reply_default(msg)
            }
            return false
        default:
            _ = ssh_message_reply_default(msg)
            return false
        }
    }

    private func openChannel(_ msg: OpaquePointer, now: Int64) -> Bool {
        guard channelsInUse < SSHLimits.channelsPerConnection, let context else {
            // SSH_MSG_CHANNEL_OPEN_FAILURE: the client says "open failed", the connection stays.
            _ = ssh_message_reply_default(msg)
            return false
        }
        switch ssh_message_subtype(msg) {
        case Int32(SSH_CHANNEL_SESSION.rawValue):
            guard let ch = ssh_message_channel_request_open_reply_accept(msg) else { return false }
            handlers.append(SessionChannel(session: session, channel: ch, context: context))
            return false
        case Int32(SSH_CHANNEL_DIRECT_TCPIP.rawValue):
            let host = ssh_message_channel_request_open_destination(msg).map { String(cString: $0) } ?? ""
            let port = ssh_message_channel_request_open_destination_port(msg)
            let target = host + ":" + String(port)
            if let resolver = server.resolver,
               SocketAddress(numericHost: host, port: UInt16(truncatingIfNeeded: port)) == nil {
                resolveForward(msg, host: host, port: port, target: target, resolver: resolver)
                return true
            }
            let sock = tether_tcp_connect_start(host, port)
            if sock < 0 {
                SSHLog.info("forward to " + target + " failed: " + Errno.text(-sock))
                _ = ssh_message_reply_default(msg)
                return false
            }
            handlers.append(
                ForwardChannel(session: session, message: msg, sock: sock, target: target, now: now))
            return true
        default:
            _ = ssh_message_reply_default(msg)
            return false
        }
    }

    /// Resolves a forward's host name on the agent's resolver, then connects (or refuses).
    private func resolveForward(_ msg: OpaquePointer, host: String, port: Int32, target: String,
                                resolver: Resolver) {
        let pending = PendingForward(message: msg)
        pendingForwards.append(pending)
        resolver.resolve(host: host, port: UInt16(truncatingIfNeeded: port)) { [self] result in
            guard state != .closed, let i = pendingForwards.firstIndex(where: { $0 === pending }) else { return }
            pendingForwards.remove(at: i)
            var sock: Int32 = -EHOSTUNREACH
            switch result {
            case .failure(let e):
                // The resolver's own words (timed out, unknown name, too many lookups).
                SSHLog.info("forward to " + target + ": " + e.message)
            case .success(let addresses):
                // One connect attempt: IPv4 first (a service on "localhost" listens there most often).
                if let a = addresses.first(where: { $0.family == .ipv4 }) ?? addresses.first {
                    sock = tether_tcp_connect_start(a.hostText, port)
                }
                if sock < 0 { SSHLog.info("forward to " + target + " failed: " + Errno.text(-sock)) }
            }
            if sock < 0 {
                _ = ssh_message_reply_default(msg)
                ssh_message_free(msg)
            } else {
                handlers.append(ForwardChannel(session: session, message: msg, sock: sock, target: target,
                                               now: Int64(MonotonicClock.nowMilliseconds())))
            }
            server.wake?()
        }
    }

    private func serviceChannels(now: Int64) {
        context?.channelRoom = SSHLimits.channelsPerConnection - channelsInUse
        var i = 0
        while i < handlers.count {
            let h = handlers[i]
            h.service(now: now, scratch: scratch)
            if h.finished {
                if let pid = h.orphan { server.orphans.append(pid) }
                if let s = h as? SessionChannel { s.unwatch() }
                if let ch = h.channel { ssh_channel_free(ch) }
                handlers.remove(at: i)
                channelsEnded += 1
            } else {
                i += 1
            }
        }
        if let context, !context.newHandlers.isEmpty {
            let adopted = context.newHandlers
            context.newHandlers.removeAll()
            for h in adopted {
                h.service(now: now, scratch: scratch)
                handlers.append(h)
            }
        }
        _ = ssh_blocking_flush(session, 0)
    }

    // MARK: Authentication

    private func refuse(_ msg: OpaquePointer, user: String, method: String, _ why: SSHAuthRefusal?) {
        if let why {
            authFailures += 1
            SSHLog.info("auth " + method + " for '" + user + "' from " + peer + " refused: " + why.text)
        }
        _ = ssh_message_auth_set_methods(msg, Int32(SSH_AUTH_METHOD_PUBLICKEY | SSH_AUTH_METHOD_PASSWORD))
        _ = ssh_message_reply_default(msg)
        if authFailures >= SSHServerConnection.maxAuthFailures {
            teardown("too many authentication failures")
        }
    }

    private func accept(_ msg: OpaquePointer, user: String, account: UserAccount, method: String, now: Int64) {
        _ = ssh_message_auth_reply_success(msg, 0)
        self.user = user
        self.account = account
        let drop = getuid() == 0 && !server.singleUser && account.uid != 0
        context = SessionContext(config: server.config, account: account, dropPrivileges: drop)
        state = .open
        authenticatedAt = now
        SSHLog.info("auth " + method + " for '" + user + "' from " + peer + " accepted")
    }

    /// Why `account(for:)` found none: no such user, or the passwd file unreadable.
    private func missingAccount(_ user: String) -> SSHAuthRefusal {
        if server.singleUser { return .unknownUser }
        if case .unreadable(let e) = PasswdFile(path: server.config.passwdPath).lookup(user) {
            return .passwdUnreadable(errno: e)
        }
        return .unknownUser
    }

    /// The account sessions run as, or why there is none.
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

    private func authenticate(_ msg: OpaquePointer, now: Int64) -> Bool {
        let user = ssh_message_auth_user(msg).map { String(cString: $0) } ?? ""
        switch ssh_message_subtype(msg) {
        case Int32(SSH_AUTH_METHOD_PASSWORD):
            guard pendingPassword == nil, pendingKey == nil else {
                refuse(msg, user: user, method: "password", .checkPending)
                return false
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
                    refuse(msg, user: user, method: "password", .lockedAccount)
                    return false
                }
                hash = h
            } else {
                switch shadow.lookup(user) {
                case .hash(let h): hash = h
                case .noSuchUser(let decoy):
                    return checkPassword(msg, user: user, account: nil, password: password, setting: decoy, now: now)
                case .unreadable:
                    refuse(msg, user: user, method: "password", .shadowUnreadable)
                    return false
                }
            }
            switch PasswordCheck.plan(password: password, hash: hash, permitEmpty: server.config.permitEmptyPasswords) {
            case .accept: accept(msg, user: user, account: acct, method: "password", now: now)
            case .refuse(let why): refuse(msg, user: user, method: "password", why)
            case .crypt: return checkPassword(msg, user: user, account: acct, password: password, setting: hash, now: now)
            }
            return false
        case Int32(SSH_AUTH_METHOD_PUBLICKEY):
            return authenticateKey(msg, user: user, now: now)
        default:
            // `none` and anything else: failure listing publickey,password (not counted).
            refuse(msg, user: user, method: "none", nil)
            return false
        }
    }

    private func authenticateKey(_ msg: OpaquePointer, user: String, now: Int64) -> Bool {
        guard pendingPassword == nil else {
            refuse(msg, user: user, method: "publickey", .checkPending)
            return false
        }
        let keyState = tether_ssh_msg_auth_pubkey_state(msg)
        let isQuery = keyState == Int32(SSH_PUBLICKEY_STATE_NONE.rawValue)
        guard isQuery || keyState == Int32(SSH_PUBLICKEY_STATE_VALID.rawValue) else {
            refuse(msg, user: user, method: "publickey", .badSignature)
            return false
        }
        guard let key = tether_ssh_msg_auth_pubkey(msg), ssh_key_type(key) == SSH_KEYTYPE_RSA else {
            refuse(msg, user: user, method: "publickey", .keyNotRSA)
            return false
        }
        guard let acct = account(for: user) else {
            refuse(msg, user: user, method: "publickey", missingAccount(user))
            return false
        }
        var b64 = [CChar](repeating: 0, count: SSHLimits.keyBlobBytes * 2)
        let rc = b64.withUnsafeMutableBufferPointer { tether_ssh_key_base64(key, $0.baseAddress, $0.count) }
        guard rc == 0, let blob = PublicKeyProof.base64Decode(String(decodingCString: b64)) else {
            refuse(msg, user: user, method: "publickey", .keyNotRSA)
            return false
        }
        if let known = keyVerdicts.first(where: { $0.blob == blob }) {
            answerKey(msg, isQuery: isQuery, accepted: known.accepted, user: user, account: acct, now: now)
            return false
        }
        guard let oracle = server.oracle else {
            refuse(msg, user: user, method: "publickey", .oracleUnavailable)
            return false
        }
        guard oracleCalls < SSHLimits.oracleCallsPerConnection, pendingKey == nil else {
            refuse(msg, user: user, method: "publickey", .oracleBudgetSpent)
            return false
        }
        oracleCalls += 1
        let data = PublicKeyProof.signedData(user: user, deviceName: server.config.deviceName)
        pendingKey = PendingKeyAuth(
            message: msg, blob: blob, data: data, isQuery: isQuery, account: acct, user: user)
        // The ticket holds the connection until it resolves or the connection tears down
        // (Embedded Swift has no weak/unowned); either one breaks the cycle.
        let t = PublicKeyOracleTicket { sig in self.oracleAnswered(sig) }
        ticket = t
        oracle.start(
            PublicKeyOracleRequest(
                fingerprint: PublicKeyProof.md5Fingerprint(blob: blob), data: data, user: user),
            ticket: t)
        return true
    }

    private func answerKey(
        _ msg: OpaquePointer, isQuery: Bool, accepted: Bool, user: String, account: UserAccount,
        now: Int64
    ) {
        if !accepted {
            refuse(msg, user: user, method: "publickey", .oracleRefused)
        } else if isQuery {
            _ = ssh_message_auth_reply_pk_ok_simple(msg)
        } else {
            accept(msg, user: user, account: account, method: "publickey", now: now)
        }
    }

    /// The runtime's answer to the oracle call (through the ticket).
    private func oracleAnswered(_ signature: String?) {
        ticket = nil
        guard let p = pendingKey, state == .authenticating else { return }
        pendingKey = nil
        var ok = false
        if let s = signature, let sig = PublicKeyProof.base64Decode(s) {
            ok = PublicKeyProof.verify(signature: sig, data: Array(p.data.utf8), blob: p.blob)
            if !ok { SSHLog.info("auth publickey: hub signature does not verify") }
        }
        keyVerdicts.append((blob: p.blob, accepted: ok))
        answerKey(
            p.message, isQuery: p.isQuery, accepted: ok, user: p.user, account: p.account,
            now: SSHClock.nowMs())
        ssh_message_free(p.message)
        if state != .closed { _ = ssh_blocking_flush(session, 0) }
    }

    /// Keeps the message until crypt has decided: `account` nil is a user that does not exist,
    /// whose password is hashed all the same (with `setting`, a real account's hash, or the
    /// fallback decoy) and then refused.
    private func checkPassword(_ msg: OpaquePointer, user: String, account: UserAccount?,
                               password: String, setting: String?, now: Int64) -> Bool {
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
        servicePassword(now: now)
        return true
    }

    /// Starts the crypt child when this try is first in line and one is free; answers the try
    /// once the child did (or at its deadline, killing it).
    private func servicePassword(now: Int64) {
        guard let p = pendingPassword else { return }
        let verdict: PasswordChild.Verdict
        var timedOut = false
        if let child = p.child {
            timedOut = now >= child.deadline
            guard let v = child.finish(giveUp: timedOut, orphans: &server.orphans) else { return }
            releaseCryptChild()
            verdict = v
        } else {
            guard server.cryptQueue === p, server.cryptRunning < SSHLimits.passwordChildren
            else { return }
            server.cryptQueue = p.next
            p.next = nil
            if let child = PasswordChild.start(password: p.password, hash: p.setting, decoy: p.account == nil, now: now) {
                server.cryptRunning += 1
                p.child = child
                p.password = ""
                // The next in line may fit too; it learns so from the wake-up.
                if server.cryptQueue != nil { server.wakePending = true }
                return
            }
            if server.cryptQueue != nil { server.wakePending = true }
            verdict = .noAnswer
        }
        pendingPassword = nil
        var refusal: SSHAuthRefusal?
        switch verdict {
        case .match: refusal = nil
        case .mismatch: refusal = .wrongPassword
        case .unsupported: refusal = .unsupportedHash
        case .noAnswer: refusal = timedOut ? .passwordCheckTimedOut : .passwordCheckFailed
        }
        if let acct = p.account, refusal == nil {
            accept(p.message, user: p.user, account: acct, method: "password", now: now)
        } else {
            refuse(p.message, user: p.user, method: "password", p.account == nil ? missingAccount(p.user) : refusal)
        }
        ssh_message_free(p.message)
    }

    private func releaseCryptChild() {
        server.cryptRunning -= 1
        if server.cryptQueue != nil { server.wakePending = true }
    }

    // MARK: Teardown

    private func teardown(_ reason: String) {
        if state == .closed { return }
        state = .closed
        closeReason = reason
        ticket?.cancel()
        ticket = nil
        if let p = pendingKey {
            ssh_message_free(p.message)
            pendingKey = nil
        }
        if let p = pendingPassword {
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
        for f in pendingForwards { ssh_message_free(f.message) }
        pendingForwards.removeAll()
        for h in handlers {
            h.abort()
            if let pid = h.orphan { server.orphans.append(pid) }
            if let s = h as? SessionChannel { s.unwatch() }
            if let ch = h.channel { ssh_channel_free(ch) }
        }
        handlers.removeAll()
        ssh_disconnect(session)
        ssh_free(session)  // closes fd
        SSHLog.info("conn " + peer + ": " + reason)
    }
}

/// A `direct-tcpip` open whose answer waits for name resolution.
final class PendingForward {
    let message: OpaquePointer
    init(message: OpaquePointer) { self.message = message }
}

/// A password try waiting for its crypt child, or in line for a turn to start one (`next`:
/// the server's queue, first come first served).
final class PendingPassword {
    let message: OpaquePointer
    let user: String
    /// nil: the user does not exist and the try is refused whatever crypt says (a decoy).
    let account: UserAccount?
    /// Dropped once the child has its copy.
    var password: String
    let setting: String
    var child: PasswordChild?
    var next: PendingPassword?

    init(message: OpaquePointer, user: String, account: UserAccount?, password: String, setting: String) {
        self.message = message
        self.user = user
        self.account = account
        self.password = password
        self.setting = setting
    }
}
