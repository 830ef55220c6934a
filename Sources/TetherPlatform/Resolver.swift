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
/// Up to `ResolverLimits.lookups` lookups run at once, each with its own child, pipe and
/// deadline; requests for a host and port in flight share its lookup, a new one beyond the
/// bound is refused with `.resolverBusy`. One place is kept for the pinned host and port (the
/// hub, or its proxy), and so is its cache entry: user lookups (direct-tcpip, web endpoints)
/// never evict it. The child keeps only its pipe (tether_resolve_spawn closes the others).
public final class Resolver: IOHandler {
    public static let defaultCacheTTLMilliseconds: UInt64 = 300_000
    public static let defaultTimeoutMilliseconds: UInt64 = 15_000
    static let recordSize = Int(TETHER_RESOLVE_RECORD)
    static let bufferSize = recordSize * (Int(TETHER_RESOLVE_MAX) + 1)
    private static let reapRetryMilliseconds: UInt64 = 20

    public typealias Completion = (Result<[SocketAddress], SocketError>) -> Void

    // Classes, not structs: arrays of references share the stdlib code every other such array
    // uses (board binary size), and an entry is changed in place.
    private final class Entry {
        var host = ""
        var port: UInt16 = 0
        var addresses: [SocketAddress] = []
        var expires: UInt64 = 0
        var lastUse: UInt64 = 0
    }

    /// One child lookup; free while `fd < 0`.
    private final class Lookup {
        var host = ""
        var port: UInt16 = 0
        var pid: Int32 = 0
        var fd: Int32 = -1
        var timer = TimerToken.none
        var used = 0
        var waiting: [Completion] = []
    }

    private let loop: EventLoop
    public let cacheTTL: UInt64
    public let timeout: UInt64
    /// Entry 0 belongs to the pinned host and port; the others are shared, least recently
    /// used out first.
    private var cache: [Entry] = []
    private var pinnedHost = ""
    private var pinnedPort: UInt16 = 0
    private var uses: UInt64 = 0
    private var running: [Lookup] = []
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    /// Child processes forked so far (tests and statistics).
    public private(set) var lookups = 0

    public init(loop: EventLoop, cacheTTLMilliseconds: UInt64 = Resolver.defaultCacheTTLMilliseconds,
                timeoutMilliseconds: UInt64 = Resolver.defaultTimeoutMilliseconds) {
        self.loop = loop
        self.cacheTTL = cacheTTLMilliseconds
        self.timeout = timeoutMilliseconds
        buffer = .allocate(capacity: Resolver.bufferSize * ResolverLimits.lookups)
        for _ in 0...ResolverLimits.cacheEntries { cache.append(Entry()) }
        for _ in 0..<ResolverLimits.lookups { running.append(Lookup()) }
    }

    deinit {
        for l in running { abandon(l) }
        buffer.deallocate()
    }

    /// Gives `host`:`port` (the hub, or its proxy) a cache entry of its own and a lookup place
    /// other names cannot take.
    public func pin(host: String, port: UInt16) {
        if SocketAddress(numericHost: host, port: port) != nil { return }
        pinnedHost = host
        pinnedPort = port
        cache[0] = Entry()
    }

    /// Whether a child lookup is running.
    public var isBusy: Bool {
        for l in running where l.fd >= 0 { return true }
        return false
    }

    /// A fresh cached answer, if any.
    public func cached(host: String, port: UInt16) -> [SocketAddress]? {
        guard let e = entry(host, port), e.expires > MonotonicClock.nowMilliseconds() else { return nil }
        uses += 1
        e.lastUse = uses
        return e.addresses
    }

    /// Puts an answer in the cache (tests; or a configured fallback address).
    public func seedCache(host: String, port: UInt16, addresses: [SocketAddress], ttlMilliseconds: UInt64) {
        store(host, port, addresses, expires: MonotonicClock.nowMilliseconds() + ttlMilliseconds)
    }

    /// Resolves `host` (name or literal) for TCP `port`. The completion runs from the loop, or
    /// at once for literals, cache hits and a refusal.
    public func resolve(host: String, port: UInt16, completion: @escaping Completion) {
        if let a = SocketAddress(numericHost: host, port: port) {
            return deliver(completion, .success([a]))
        }
        if let hit = cached(host: host, port: port) {
            return deliver(completion, .success(hit))
        }
        var free: Lookup?
        var active = 0
        for l in running {
            if l.fd < 0 {
                if free == nil { free = l }
            } else if l.host == host && l.port == port {
                l.waiting.append(completion)
                return
            } else {
                active += 1
            }
        }
        let reserved = pinnedHost.isEmpty || (host == pinnedHost && port == pinnedPort) ? 0 : 1
        guard let l = free, active + reserved < ResolverLimits.lookups else {
            return deliver(completion, fallback(host, port, .resolverBusy))
        }
        var pid: Int32 = 0
        let fd = tether_resolve_spawn(host, String(port), &pid)
        if fd < 0 {
            return deliver(completion, fallback(host, port, .resolveFailed(host: host, reason: Errno.text(-fd))))
        }
        lookups += 1
        l.host = host
        l.port = port
        l.pid = pid
        l.fd = fd
        l.used = 0
        l.waiting = [completion]
        do {
            try loop.register(fd: fd, interest: .readable, handler: self)
            l.timer = try loop.schedule(afterMilliseconds: timeout) { [self] in
                l.timer = .none
                finish(l, .failure(.resolveTimedOut(host: host)))
            }
        } catch {
            finish(l, .failure(.resolveFailed(host: host, reason: "event loop full")))
        }
    }

    /// Calls a completion out of line, so `resolve` is one function and not one copy per
    /// caller's closure (board binary size).
    @inline(never)
    private func deliver(_ completion: Completion, _ result: Result<[SocketAddress], SocketError>) {
        completion(result)
    }

    public func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        for i in running.indices where running[i].fd == fd {
            let l = running[i]
            let base = buffer.baseAddress! + i * Resolver.bufferSize
            // A pipe, not a socket: read(2), not recv(2).
            while l.used < Resolver.bufferSize {
                let n = read(fd, base + l.used, Resolver.bufferSize - l.used)
                if n > 0 { l.used += n; continue }
                if n < 0 && Errno.current == EINTR { continue }
                if n < 0 && Errno.current == EAGAIN { return }
                break
            }
            finish(l, parse(l, UnsafeBufferPointer(start: base, count: l.used)))
            return
        }
    }

    /// The child's records: addresses, then a final record with the getaddrinfo code.
    private func parse(_ l: Lookup, _ r: UnsafeBufferPointer<UInt8>) -> Result<[SocketAddress], SocketError> {
        var out: [SocketAddress] = []
        var b = 0
        while b + Resolver.recordSize <= r.count {
            let p = UInt16(r[b + 17]) << 8 | UInt16(r[b + 18])
            switch r[b] {
            case 4: out.append(SocketAddress(family: .ipv4, bytes: Array(r[(b + 1)..<(b + 5)]), port: p))
            case 6: out.append(SocketAddress(family: .ipv6, bytes: Array(r[(b + 1)..<(b + 17)]), port: p))
            default:
                let code = Int32(bitPattern: UInt32(r[b + 1]) | UInt32(r[b + 2]) << 8
                                 | UInt32(r[b + 3]) << 16 | UInt32(r[b + 4]) << 24)
                if code != 0 {
                    let text = tether_gai_strerror(code).map { String(cString: $0) } ?? "error"
                    return .failure(.resolveFailed(host: l.host, reason: text))
                }
                if out.isEmpty { return .failure(.noAddresses(host: l.host)) }
                // IPv4 first: on boards without global IPv6 the v6 attempt would only add a
                // connect timeout before the v4 one.
                var ordered = out.filter { $0.family == .ipv4 }
                ordered += out.filter { $0.family == .ipv6 }
                store(l.host, l.port, ordered, expires: MonotonicClock.nowMilliseconds() + cacheTTL)
                return .success(ordered)
            }
            b += Resolver.recordSize
        }
        // The child died before its final record.
        return .failure(.resolveFailed(host: l.host, reason: "lookup process failed"))
    }

    private func entry(_ host: String, _ port: UInt16) -> Entry? {
        if host == pinnedHost && port == pinnedPort { return cache[0] }
        for k in 1..<cache.count where cache[k].host == host && cache[k].port == port { return cache[k] }
        return nil
    }

    private func store(_ host: String, _ port: UInt16, _ addresses: [SocketAddress], expires: UInt64) {
        var e = entry(host, port) ?? cache[1]
        if e.host != host || e.port != port {  // a new name takes the least recently used entry
            for k in 2..<cache.count where cache[k].lastUse < e.lastUse { e = cache[k] }
        }
        uses += 1
        e.host = host
        e.port = port
        e.addresses = addresses
        e.expires = expires
        e.lastUse = uses
    }

    /// A stale answer for the same host beats an error.
    private func fallback(_ host: String, _ port: UInt16, _ error: SocketError) -> Result<[SocketAddress], SocketError> {
        if let e = entry(host, port), !e.addresses.isEmpty { return .success(e.addresses) }
        return .failure(error)
    }

    /// Ends lookup `l` and answers its callers only; its place is free before they run.
    private func finish(_ l: Lookup, _ result: Result<[SocketAddress], SocketError>) {
        var r = result
        if case .failure(let e) = result { r = fallback(l.host, l.port, e) }
        let callbacks = l.waiting
        abandon(l)
        for c in callbacks { c(r) }
    }

    private func abandon(_ l: Lookup) {
        loop.cancel(l.timer)
        l.timer = .none
        l.waiting = []
        if l.fd >= 0 {
            loop.unregister(fd: l.fd)
            Socket.close(l.fd)
            l.fd = -1
        }
        if l.pid > 0 {
            let pid = l.pid
            l.pid = 0
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
        // No timer free: the killed child stays a zombie (no fds, no memory to speak of)
        // until the agent exits; nothing waits on it.
        _ = try? loop.schedule(afterMilliseconds: reapRetryMilliseconds) {
            reap(pid, loop: loop, attempts: attempts - 1)
        }
    }
}

/// The resolver's fixed tables.
public enum ResolverLimits {
    /// Lookups (child processes) running at once; other names than the pinned one get one
    /// place less, so the hub's name can always be looked up.
    public static let lookups = 4
    /// Cached names besides the pinned one.
    public static let cacheEntries = 4
}
