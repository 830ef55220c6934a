import CLibSSH
import CShims
import TetherPlatform

/// A `direct-tcpip` channel (ssh -L): a non-blocking connect to host:port, answered with
/// channel-open confirmation once connected (or failure), then bytes piped both ways with
/// half-closes passed on. Also the agent-forwarding channel: a connection accepted on the
/// session's SSH_AUTH_SOCK, for which the server opens `auth-agent@openssh.com` itself.
final class ForwardChannel: ChannelHandler {
    var openMessage: OpaquePointer?  // kept until the connect completes
    var agentOpening = false         // ssh_channel_open_auth_agent still SSH_AGAIN
    var sock: Int32
    let connectDeadline: Int64
    var toSocket = ByteQueue()
    var clientEOF = false
    var socketEOF = false
    let target: String

    init(session: OpaquePointer, message: OpaquePointer, sock: Int32, target: String, now: Int64) {
        openMessage = message
        self.sock = sock
        self.target = target
        connectDeadline = now + SSHLimits.forwardConnectMs
        super.init(session: session, channel: nil)
    }

    override func interests(into list: inout [SSHPollInterest], sshWritable: Bool) {
        guard !finished, sock >= 0, !agentOpening else { return }
        if openMessage != nil {
            list.append(SSHPollInterest(fd: sock, events: Int16(POLLOUT)))
            return
        }
        var ev: Int16 = 0
        if !toSocket.isEmpty { ev |= Int16(POLLOUT) }
        if !socketEOF && sshWritable && channel.map({ ssh_channel_window_size($0) > 0 }) ?? false {
            ev |= Int16(POLLIN)
        }
        if ev != 0 { list.append(SSHPollInterest(fd: sock, events: ev)) }
    }

    /// An agent connection accepted on `sock`; the channel is opened towards the client.
    init(session: OpaquePointer, agentSocket sock: Int32, now: Int64) {
        openMessage = nil
        self.sock = sock
        target = "agent"
        connectDeadline = now + SSHLimits.forwardConnectMs
        agentOpening = true
        super.init(session: session, channel: ssh_channel_new(session))
    }

    override var deadline: Int64? { openMessage != nil || agentOpening ? connectDeadline : nil }

    override func service(now: Int64, scratch: UnsafeMutableRawBufferPointer) {
        if finished { return }
        if let msg = openMessage, !answerOpen(msg, now: now) { return }
        guard let ch = channel else {
            end()
            return
        }
        if agentOpening, !openAgentChannel(ch, now: now) { return }
        if ssh_channel_is_closed(ch) != 0 {
            closeSock()
            finished = true
            return
        }
        if !clientEOF && sock >= 0 {
            switch ChannelPump.channelToFd(channel: ch, fd: sock, pending: &toSocket, scratch: scratch) {
            case .eof:
                clientEOF = true
                _ = shutdown(sock, Int32(SHUT_WR))
            case .fdClosed, .failed:
                clientEOF = true
            case .idle, .blocked:
                break
            }
        }
        if !socketEOF && sock >= 0 {
            var moved = 0
            if ChannelPump.fdToChannel(
                session: session, channel: ch, fd: sock, stderr: false, scratch: scratch,
                moved: &moved) == .eof
            {
                socketEOF = true
                _ = ssh_channel_send_eof(ch)
            }
        }
        if clientEOF && socketEOF {
            _ = ssh_channel_close(ch)
            closeSock()
            finished = true
        }
    }

    /// Answers the direct-tcpip open once the connect completed (or failed, or timed out);
    /// false while it is still connecting or once the open was refused.
    @inline(__always)
    private func answerOpen(_ msg: OpaquePointer, now: Int64) -> Bool {
        var pfd = pollfd(fd: sock, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&pfd, 1, 0) > 0
        if !ready && now < connectDeadline { return false }
        let err = ready ? tether_socket_error(sock) : ETIMEDOUT
        openMessage = nil
        if err != 0 {
            SSHLog.info("forward to " + target + " failed: " + Errno.text(err))
            _ = ssh_message_reply_default(msg)
            ssh_message_free(msg)
            end()
            return false
        }
        channel = ssh_message_channel_request_open_reply_accept(msg)
        ssh_message_free(msg)
        if channel == nil {
            end()
            return false
        }
        SSHLog.debug("forward to " + String(target) + " open")
        return true
    }

    /// Opens the auth-agent@openssh.com channel towards the client; false while the client
    /// has not answered yet or once it refused.
    @inline(__always)
    private func openAgentChannel(_ ch: OpaquePointer, now: Int64) -> Bool {
        let rc = ssh_channel_open_auth_agent(ch)
        if rc == SSH_AGAIN && now < connectDeadline { return false }
        agentOpening = false
        if rc != SSH_OK {
            SSHLog.info("agent channel refused by client")
            end()
            return false
        }
        return true
    }

    /// Done without a channel to close: the socket closed.
    private func end() {
        closeSock()
        finished = true
    }

    override func abort() {
        if let msg = openMessage {
            ssh_message_free(msg)
            openMessage = nil
        }
        closeSock()
        finished = true
    }

    private func closeSock() {
        if sock >= 0 { close(sock) }
        sock = -1
    }
}
