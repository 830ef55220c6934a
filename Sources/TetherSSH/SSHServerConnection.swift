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
/// successful authentication has one limit, `SSHServerConfig.loginGraceMs`. Who may log in
/// is `SSHAuthPolicy`'s decision; the connection acts on it and dispatches the channels.
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
    let auth: SSHAuthPolicy
    var account: UserAccount?
    var context: SessionContext?
    var handlers: [ChannelHandler] = []
    var ticket: PublicKeyOracleTicket?
    /// `direct-tcpip` opens waiting for their host name to resolve (the message is answered
    /// once the connect starts, or refused).
    var pendingForwards: [DirectTCPIPOpen] = []
    var nextKeepalive: Int64?
    /// Channels counted against `SSHLimits.channelsPerConnection`.
    var channelsInUse: Int { handlers.count + pendingForwards.count + (context?.newHandlers.count ?? 0) }
    /// Channels that ran to their end on this connection.
    var channelsEnded = 0
    /// The server's shared pump buffer.
    var scratch: UnsafeMutableRawBufferPointer { server.scratch }

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
        auth = SSHAuthPolicy(server: server, peer: peer, startedAt: now)
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
        if let c = auth.passwordChild { list.append(SSHPollInterest(fd: c.fd, events: Int16(POLLIN))) }
        for h in handlers { h.interests(into: &list, sshWritable: !writePending) }
    }

    /// Earliest monotonic time (ms) at which `service` must run even without fd events.
    public var nextDeadline: Int64? {
        if state == .closed { return nil }
        var d = nextKeepalive
        if let grace = auth.loginDeadline { d = min(d ?? grace, grace) }
        if let c = auth.passwordChild { d = min(d ?? c.deadline, c.deadline) }
        for h in handlers {
            if let hd = h.deadline { d = min(d ?? hd, hd) }
        }
        return d
    }

    /// Advances everything that can advance without blocking.
    public func service(now: Int64) {
        if state == .closed { return }
        if let grace = auth.loginDeadline, now >= grace {
            teardown("not authenticated within " + String(server.config.loginGraceMs / 1000) + " s")
            return
        }
        if state == .keyExchange && !exchangeKeys() { return }
        if auth.checkingPassword { _ = act(auth.servicePassword(now: now), now: now) }
        // A refused password can be the last failure allowed: the session is freed then.
        if state == .closed { return }
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
        endIfDisconnected()
    }

    /// Advances the key exchange; true once it is done and authentication may start.
    @inline(__always)
    private func exchangeKeys() -> Bool {
        let rc = ssh_handle_key_exchange(session)
        if rc == SSH_AGAIN { return false }
        if rc != SSH_OK {
            let err = lastError
            if SSHFailure(err) == .closeRequestBanner {
                // The gateway gave the stream up before starting SSH on it (the user's
                // login failed on its side) and wrote its close request instead.
                teardown("closed by the server before SSH started")
            } else {
                teardown("key exchange: " + err)
            }
            return false
        }
        state = .authenticating
        SSHLog.debug("conn " + peer + ": keys exchanged")
        return true
    }

    /// Tears down once libssh saw the socket close or fail.
    @inline(__always)
    private func endIfDisconnected() {
        let status = ssh_get_status(session)
        guard (status & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0 || ssh_is_connected(session) == 0
        else { return }
        let err = lastError
        let byPeer = (status & SSH_CLOSED_ERROR) == 0 || SSHFailure(err) == .peerDisconnected
        if !byPeer && afterLastChannel {
            // ShellHub's gateway writes `DELETE /ssh/close/<uid> HTTP/1.1...` into the
            // stream once its session ended (PROTOCOL.md 6): not SSH, and not an error.
            SSHLog.debug("conn " + peer + ": bytes after the last channel ended: " + err)
            teardown("closed by peer after the session ended")
        } else {
            teardown(byPeer ? "closed by peer" : "connection error: " + err)
        }
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
            return act(auth.authenticate(msg, now: now), now: now)
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
            channelRequest(msg, now: now)
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

    /// A request on an open channel (pty-req, shell, exec, ...), answered by its handler.
    @inline(__always)
    private func channelRequest(_ msg: OpaquePointer, now: Int64) {
        guard state == .open, let ch = ssh_message_channel_request_channel(msg),
              let h = handlers.first(where: { $0.channel == ch })
        else {
            _ = ssh_message_reply_default(msg)
            return
        }
        if h.request(msg, now: now) {
            _ = ssh_message_channel_request_reply_success(msg)
        } else {
            _ = ssh_message_reply_default(msg)
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
            let open = DirectTCPIPOpen(message: msg)
            if let resolver = server.resolver, open.isName {
                resolveForward(open, resolver: resolver)
                return true
            }
            guard let forward = open.connect(session: session, now: now) else { return false }
            handlers.append(forward)
            return true
        default:
            _ = ssh_message_reply_default(msg)
            return false
        }
    }

    /// Resolves a forward's host name on the agent's resolver, then connects (or refuses).
    private func resolveForward(_ open: DirectTCPIPOpen, resolver: Resolver) {
        pendingForwards.append(open)
        resolver.resolve(host: open.host, port: UInt16(truncatingIfNeeded: open.port)) { [self] result in
            guard state != .closed, let i = pendingForwards.firstIndex(where: { $0 === open }) else { return }
            pendingForwards.remove(at: i)
            if let forward = open.connect(resolved: result, session: session) { handlers.append(forward) }
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
                release(h)
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

    /// A handler that is done: its unreaped child to the server, its channel freed.
    private func release(_ h: ChannelHandler) {
        if let pid = h.orphan { server.orphans.append(pid) }
        if let s = h as? SessionChannel { s.unwatch() }
        if let ch = h.channel { ssh_channel_free(ch) }
    }

    // MARK: Authentication

    /// Does what the policy decided. Returns true when it keeps the message.
    private func act(_ step: SSHAuthPolicy.Step, now: Int64) -> Bool {
        switch step {
        case .done:
            return false
        case .wait:
            return true
        case .open(let user, let account):
            authenticated(user: user, account: account, now: now)
            return false
        case .giveUp:
            teardown("too many authentication failures")
            return false
        case .askOracle(let request):
            // The ticket holds the connection until it resolves or the connection tears down
            // (Embedded Swift has no weak/unowned); either one breaks the cycle.
            let t = PublicKeyOracleTicket { sig in self.oracleAnswered(sig) }
            ticket = t
            server.oracle?.start(request, ticket: t)
            return true
        }
    }

    @inline(__always)
    private func authenticated(user: String, account: UserAccount, now: Int64) {
        self.user = user
        self.account = account
        let drop = getuid() == 0 && !server.singleUser && account.uid != 0
        context = SessionContext(config: server.config, account: account, dropPrivileges: drop)
        state = .open
        authenticatedAt = now
    }

    /// The runtime's answer to the oracle call (through the ticket).
    private func oracleAnswered(_ signature: String?) {
        ticket = nil
        guard state == .authenticating, let step = auth.keyAnswered(signature) else { return }
        _ = act(step, now: SSHClock.nowMs())
        if state != .closed { _ = ssh_blocking_flush(session, 0) }
    }

    // MARK: Teardown

    private func teardown(_ reason: String) {
        if state == .closed { return }
        state = .closed
        closeReason = reason
        ticket?.cancel()
        ticket = nil
        auth.cancel()
        for f in pendingForwards { ssh_message_free(f.message) }
        pendingForwards.removeAll()
        for h in handlers {
            h.abort()
            release(h)
        }
        handlers.removeAll()
        ssh_disconnect(session)
        ssh_free(session)  // closes fd
        SSHLog.info("conn " + peer + ": " + reason)
    }
}
