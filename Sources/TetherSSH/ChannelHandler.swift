import CLibSSH
import CShims
import TetherPlatform

/// One open SSH channel and the fds behind it (a child's stdio, a TCP socket). The connection
/// asks each handler for its poll interests and deadline and lets it move bytes on `service`.
class ChannelHandler {
    let session: OpaquePointer
    /// The libssh channel (nil while a direct-tcpip open is still connecting).
    var channel: OpaquePointer?
    /// Set once the handler is done; the connection then frees the channel.
    var finished = false
    /// A killed child not yet reaped; the connection hands it to the server's orphan list.
    var orphan: pid_t?

    init(session: OpaquePointer, channel: OpaquePointer?) {
        self.session = session
        self.channel = channel
    }

    func interests(into list: inout [SSHPollInterest], sshWritable: Bool) {}
    func service(now: Int64, scratch: UnsafeMutableRawBufferPointer) {}
    var deadline: Int64? { nil }
    /// Channel request (pty-req, shell, exec, ...). Returns true to reply success.
    func request(_ msg: OpaquePointer, now: Int64) -> Bool { false }
    /// The connection is going away: kill children, close fds (an unreaped child goes to
    /// `orphan`).
    func abort() {}
}

/// The byte pumps shared by session and forwarding channels.
enum ChannelPump {
    enum InResult { case idle, blocked, eof, fdClosed, failed }

    /// Channel data → fd until the channel buffer is empty or the fd would block.
    static func channelToFd(
        channel: OpaquePointer, fd: Int32, pending: inout ByteQueue,
        scratch: UnsafeMutableRawBufferPointer
    ) -> InResult {
        while true {
            // One chunk at a time: the channel's window holds the rest back.
            if pending.isEmpty {
                let n = ssh_channel_read_nonblocking(
                    channel, scratch.baseAddress, UInt32(scratch.count), 0)
                if n == SSH_EOF { return .eof }
                if n < 0 { return .failed }
                if n == 0 { return .idle }
                pending.append(UnsafeRawBufferPointer(rebasing: scratch[0..<Int(n)]))
            }
            switch pending.write(to: fd) {
            case .drained:
                continue
            case .blocked:
                return .blocked
            case .failed:
                pending.removeAll()
                return .fdClosed
            }
        }
    }

    enum OutResult { case open, eof }

    /// fd → channel data (or extended data 1), bounded by the peer's window and stopped while
    /// libssh still holds unsent output, so memory per channel stays one chunk.
    static func fdToChannel(
        session: OpaquePointer, channel: OpaquePointer, fd: Int32, stderr: Bool,
        scratch: UnsafeMutableRawBufferPointer, moved: inout Int
    ) -> OutResult {
        var rounds = 0
        while rounds < 16 {
            rounds += 1
            if (ssh_get_poll_flags(session) & SSH_WRITE_PENDING) != 0 { return .open }
            // The peer chooses the window (up to 2^32-1): clamp, Int is 32 bits on armv7.
            let window = Int(clamping: ssh_channel_window_size(channel))
            if window == 0 { return .open }
            let n = read(fd, scratch.baseAddress, min(window, scratch.count))
            if n < 0 {
                let e = tether_errno()
                if e == EINTR { continue }
                if e == EAGAIN || e == EWOULDBLOCK { return .open }
                return .eof  // EIO: pty slave closed
            }
            if n == 0 { return .eof }
            let rc = stderr
                ? ssh_channel_write_stderr(channel, scratch.baseAddress, UInt32(n))
                : ssh_channel_write(channel, scratch.baseAddress, UInt32(n))
            if rc < 0 { return .eof }
            moved += n
        }
        return .open
    }
}
