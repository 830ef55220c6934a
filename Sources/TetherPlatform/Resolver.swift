import CShims

/// Name resolution that never stalls the loop.
///
/// getaddrinfo(3) blocks (musl's for up to the resolv.conf timeout times attempts, easily
/// 10 s or more), and the agent is one thread that also carries live SSH sessions. So the
/// lookup runs in a **forked child**: the child calls getaddrinfo and writes the addresses as
/// fixed records to a pipe, then exits; the parent watches the pipe in the event loop, kills
/// the child at the deadline and reaps it. This keeps the agent single-threaded, works the
/// same with glibc and musl, needs no resolver of our own (search domains, /etc/hosts,
/// nsswitch all behave as the system says), and costs one short-lived process per lookup —
/// lookups are rare because of the cache:
///
/// - an answer is cached for `cacheTTLMilliseconds` (DNS TTLs are not visible through
///   getaddrinfo; a fixed TTL bounds how long a moved hub is missed);
/// - when a lookup fails or times out and a previous answer exists, that stale answer is
///   returned (a DNS outage must not turn into an agent outage);
/// - address literals never fork.
///
/// One lookup runs at a time (the agent talks to one hub); concurrent requests for the same
/// host share it.
public final class Resolver: IOHandler {
    public static let defaultCacheTTLMilliseconds: UInt64 = 300_000
    public static let defaultTimeoutMilliseconds: UInt64 = 15_000
    static let recordSize = Int(TETHER_RESOLVE_RECORD)
    static let maxRecords = Int(TETHER_RESOLVE_MAX) + 1
    private static let reapRetryMilliseconds: UInt64 = 20

    private struct CacheEntry {
        var host: String
        var port: UInt16
        var addresses: [SocketAddress]
        var expires: UInt64
    }

    private let loop: EventLoop
    public let cacheTTL: UInt64
    public let timeout: UInt64
    private var cache: CacheEntry?
    // The lookup in flight.
    private var host = ""
    private var port: UInt16 = 0
    private var childPid: Int32 = 0
    private var pipeFd: Int32 = -1
    private var timer = TimerToken.none
    private var waiting: [(Result<[SocketAddress], SocketError>) -> Void] = []
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    private var used = 0
    /// Child processes forked so far (tests and statistics).
    public private(set) var lookups = 0

    public init(loop: EventLoop, cacheTTLMilliseconds: UInt64 = Resolver.defaultCacheTTLMilliseconds,
                timeoutMilliseconds: UInt64 = Resolver.defaultTimeoutMilliseconds) {
        self.loop = loop
        self.cacheTTL = cacheTTLMilliseconds
        self.timeout = timeoutMilliseconds
        buffer = .allocate(capacity: Resolver.recordSize * Resolver.maxRecords)
    }

    deinit {
        abandonChild()
        buffer.deallocate()
    }

    /// Whether a child lookup is running.
    public var isBusy: Bool { pipeFd >= 0 }

    /// A fresh cached answer, if any.
    public func cached(host: String, port: UInt16) -> [SocketAddress]? {
        guard let c = cache, c.host == host, c.port == port,
              c.expires > MonotonicClock.nowMilliseconds() else { return nil }
        return c.addresses
    }

    /// Puts an answer in the cache (tests; or a configured fallback address).
    public func seedCache(host: String, port: UInt16, addresses: [SocketAddress], ttlMilliseconds: UInt64) {
        cache = CacheEntry(host: host, port: port, addresses: addresses,
                           expires: MonotonicClock.nowMilliseconds() + ttlMilliseconds)
    }

    /// Resolves `host` (name or literal) for TCP `port`. The completion runs from the loop, or
    /// at once for literals and cache hits.
    public func resolve(host: String, port: UInt16,
                        completion: @escaping (Result<[SocketAddress], SocketError>) -> Void) {
        if let a = SocketAddress(numericHost: host, port: port) {
            completion(.success([a]))
            return
        }
        if let hit = cached(host: host, port: port) {
            completion(.success(hit))
            return
        }
        if isBusy {
            if host == self.host && port == self.port {
                waiting.append(completion)
            } else {
                completion(.failure(.resolverBusy))
            }
            return
        }
        self.host = host
        self.port = port
        var pid: Int32 = 0
        let fd = tether_resolve_spawn(host, String(port), &pid)
        if fd < 0 {
            completion(fallback(.resolveFailed(host: host, reason: Errno.text(-fd))))
            return
        }
        lookups += 1
        pipeFd = fd
        childPid = pid
        used = 0
        waiting = [completion]
        do {
            try loop.register(fd: fd, interest: .readable, handler: self)
            timer = try loop.schedule(afterMilliseconds: timeout) { [self] in
                timer = .none
                finish(fallback(.resolveTimedOut(host: self.host)))
            }
        } catch {
            finish(fallback(.resolveFailed(host: host, reason: "event loop full")))
        }
    }

    /// Cancels the lookup in flight; its completions are not called.
    public func cancel() {
        waiting = []
        abandonChild()
    }

    public func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        guard fd == pipeFd else { return }
        // A pipe, not a socket: read(2), not recv(2).
        while used < buffer.count {
            let n = read(fd, buffer.baseAddress! + used, buffer.count - used)
            if n > 0 { used += n; continue }
            if n < 0 && Errno.current == EINTR { continue }
            if n < 0 && Errno.current == EAGAIN { return }
            break
        }
        finish(parse())
    }

    private func parse() -> Result<[SocketAddress], SocketError> {
        var out: [SocketAddress] = []
        var off = 0
        while off + Resolver.recordSize <= used {
            let r = buffer[off..<(off + Resolver.recordSize)]
            let b = r.startIndex
            let p = UInt16(r[b + 17]) << 8 | UInt16(r[b + 18])
            switch r[b] {
            case 4: out.append(SocketAddress(family: .ipv4, bytes: Array(r[(b + 1)..<(b + 5)]), port: p))
            case 6: out.append(SocketAddress(family: .ipv6, bytes: Array(r[(b + 1)..<(b + 17)]), port: p))
            default:
                let code = Int32(bitPattern: UInt32(r[b + 1]) | UInt32(r[b + 2]) << 8
                                 | UInt32(r[b + 3]) << 16 | UInt32(r[b + 4]) << 24)
                if code != 0 {
                    let text = tether_gai_strerror(code).map { String(cString: $0) } ?? "error"
                    return fallback(.resolveFailed(host: host, reason: text))
                }
                if out.isEmpty { return fallback(.noAddresses(host: host)) }
                // IPv4 first: on boards without global IPv6 the v6 attempt would only add a
                // connect timeout before the v4 one.
                var ordered = out.filter { $0.family == .ipv4 }
                ordered += out.filter { $0.family == .ipv6 }
                cache = CacheEntry(host: host, port: port, addresses: ordered,
                                   expires: MonotonicClock.nowMilliseconds() + cacheTTL)
                return .success(ordered)
            }
            off += Resolver.recordSize
        }
        // The child died before its final record.
        return fallback(.resolveFailed(host: host, reason: "lookup process failed"))
    }

    /// A stale answer for the same host beats an error.
    private func fallback(_ error: SocketError) -> Result<[SocketAddress], SocketError> {
        if let c = cache, c.host == host, c.port == port, !c.addresses.isEmpty {
            return .success(c.addresses)
        }
        return .failure(error)
    }

    private func finish(_ result: Result<[SocketAddress], SocketError>) {
        let callbacks = waiting
        waiting = []
        abandonChild()
        for c in callbacks { c(result) }
    }

    private func abandonChild() {
        loop.cancel(timer)
        timer = .none
        if pipeFd >= 0 {
            loop.unregister(fd: pipeFd)
            Socket.close(pipeFd)
            pipeFd = -1
        }
        if childPid > 0 {
            let pid = childPid
            childPid = 0
            // Kill only a child that is still ours and running: once reaped (by us or by a
            // waitpid(-1) elsewhere) its pid may belong to someone else.
            if tether_reap(pid) == 0 {
                _ = tether_kill(pid)
                Resolver.reap(pid, loop: loop, attempts: 50)
            }
        }
    }

    /// Reaps the child without blocking, retrying on a short timer until it is gone.
    private static func reap(_ pid: Int32, loop: EventLoop, attempts: Int) {
        if tether_reap(pid) != 0 || attempts == 0 { return }
        _ = try? loop.schedule(afterMilliseconds: reapRetryMilliseconds) {
            reap(pid, loop: loop, attempts: attempts - 1)
        }
    }
}
