import CLibSSH
import CShims
import TetherPlatform

/// A `direct-tcpip` open (ssh -L) on its way to a `ForwardChannel`: the destination it asks
/// for, and a connect started at once for an address (or for any name when the server has no
/// resolver: then a blocking lookup), or once the agent's resolver answered for a name.
final class DirectTCPIPOpen {
    let message: OpaquePointer
    let host: String
    let port: Int32
    /// "host:port", for the log.
    let target: String

    init(message: OpaquePointer) {
        self.message = message
        host = ssh_message_channel_request_open_destination(message).map { String(cString: $0) } ?? ""
        port = ssh_message_channel_request_open_destination_port(message)
        target = host + ":" + String(port)
    }

    /// The host is a name, not a numeric address.
    var isName: Bool { SocketAddress(numericHost: host, port: UInt16(truncatingIfNeeded: port)) == nil }

    /// Connects to the host now: the channel, or nil when refused (the message answered; the
    /// caller frees it).
    func connect(session: OpaquePointer, now: Int64) -> ForwardChannel? {
        let sock = tether_tcp_connect_start(host, port)
        if sock < 0 { SSHLog.info("forward to " + target + " failed: " + Errno.text(-sock)) }
        return channel(sock: sock, session: session, now: now)
    }

    /// Connects to what the resolver found for the host: the channel, or nil when refused (the
    /// message answered and freed).
    func connect(resolved result: Result<[SocketAddress], SocketError>, session: OpaquePointer) -> ForwardChannel? {
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
        let opened = channel(sock: sock, session: session, now: Int64(MonotonicClock.nowMilliseconds()))
        if opened == nil { ssh_message_free(message) }
        return opened
    }

    /// The channel on a connect started (`sock` >= 0), or the open refused.
    private func channel(sock: Int32, session: OpaquePointer, now: Int64) -> ForwardChannel? {
        if sock < 0 {
            _ = ssh_message_reply_default(message)
            return nil
        }
        return ForwardChannel(session: session, message: message, sock: sock, target: target, now: now)
    }
}
