import CShims

/// Outcome of one non-blocking read or write. Would-block is a normal answer, not an error.
public enum IOResult: Equatable, Sendable {
    /// This many bytes moved (always > 0).
    case bytes(Int)
    /// Nothing moved now; wait for readiness.
    case wouldBlock
    /// The peer closed (read returned 0).
    case closed
    /// errno of a real failure (ECONNRESET, EPIPE, ...).
    case failed(Int32)
}

/// Socket failures, with the errno where there is one.
public enum SocketError: Error, Equatable {
    case socketFailed(Int32)
    case connectFailed(address: String, errno: Int32)
    case connectTimedOut(address: String)
    case noAddresses(host: String)
    case resolveFailed(host: String, reason: String)
    case resolveTimedOut(host: String)
    /// `ResolverLimits.lookups` other names are being looked up already.
    case resolverBusy
    case cancelled
    /// The event loop's timer table was full: no deadline for the attempt.
    case noTimer

    /// A short line for the log.
    public var message: String {
        switch self {
        case .socketFailed(let e): return "socket: " + Errno.text(e)
        case .connectFailed(let a, let e): return "connect " + a + ": " + Errno.text(e)
        case .connectTimedOut(let a): return "connect " + a + ": timed out"
        case .noAddresses(let h): return "resolve " + h + ": no addresses"
        case .resolveFailed(let h, let r): return "resolve " + h + ": " + r
        case .resolveTimedOut(let h): return "resolve " + h + ": timed out"
        case .resolverBusy: return "resolver: too many lookups at once"
        case .cancelled: return "cancelled"
        case .noTimer: return "event loop timer table full"
        }
    }
}

/// errno text without Foundation.
public enum Errno {
    public static var current: Int32 { tether_errno() }

    public static func text(_ code: Int32) -> String {
        guard let p = strerror(code) else { return "errno " + String(code) }
        return String(cString: p)
    }
}

/// Non-blocking TCP socket helpers over raw descriptors.
public enum Socket {
    /// Creates a non-blocking TCP socket and starts connecting. Returns the fd and whether the
    /// connection completed at once (loopback can); otherwise wait for writability and call
    /// `connectResult`. TCP_NODELAY is on (small interactive frames); SO_KEEPALIVE stays off
    /// (keepalive traffic is the policy's business, not the kernel's).
    public static func startConnect(to address: SocketAddress) throws(SocketError) -> (fd: Int32, connected: Bool) {
        let fd = socket(address.addressFamily, cInt(SOCK_STREAM) | cInt(SOCK_NONBLOCK)
                        | cInt(SOCK_CLOEXEC), 0)
        if fd < 0 { throw .socketFailed(Errno.current) }
        _ = setNoDelay(fd, true)
        let rc = address.withSockaddr { connect(fd, $0, $1) }
        if rc == 0 { return (fd, true) }
        let e = Errno.current
        if e == EINPROGRESS || e == EINTR { return (fd, false) }
        _ = CShims.close(fd)
        throw .connectFailed(address: address.text, errno: e)
    }

    /// After a non-blocking connect became writable: 0 on success, else the errno.
    public static func connectResult(_ fd: Int32) -> Int32 {
        let e = tether_socket_error(fd)
        return e < 0 ? -e : e
    }

    @discardableResult
    public static func setNoDelay(_ fd: Int32, _ on: Bool) -> Bool {
        tether_setsockopt_int(fd, Int32(IPPROTO_TCP), TCP_NODELAY, on ? 1 : 0) == 0
    }

    /// Enables kernel keepalive probes with the given timings (seconds), or disables them.
    @discardableResult
    public static func setKeepAlive(_ fd: Int32, idle: Int32? = nil, interval: Int32 = 15, count: Int32 = 4) -> Bool {
        guard let idle else { return tether_setsockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0) == 0 }
        return tether_setsockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1) == 0
            && tether_setsockopt_int(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, idle) == 0
            && tether_setsockopt_int(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, interval) == 0
            && tether_setsockopt_int(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, count) == 0
    }

    /// Bounds the kernel send buffer (fixed memory per slot socket).
    @discardableResult
    public static func setSendBuffer(_ fd: Int32, bytes: Int32) -> Bool {
        tether_setsockopt_int(fd, SOL_SOCKET, SO_SNDBUF, bytes) == 0
    }

    /// One non-blocking read into `buffer`.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n > 0 { return .bytes(n) }
            if n == 0 { return buffer.count == 0 ? .bytes(0) : .closed }
            let e = Errno.current
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .failed(e)
        }
    }

    /// One non-blocking write of (a prefix of) `buffer`; never raises SIGPIPE.
    public static func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> IOResult {
        if buffer.count == 0 { return .bytes(0) }
        while true {
            let n = send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .bytes(n) }
            let e = Errno.current
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            return .failed(e)
        }
    }

    /// One non-blocking write of `bytes`.
    public static func write(_ fd: Int32, _ bytes: [UInt8]) -> IOResult {
        bytes.withUnsafeBytes { write(fd, from: $0) }
    }

    public static func close(_ fd: Int32) {
        if fd >= 0 { _ = CShims.close(fd) }
    }
}
