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
/// deadline; requests for a name in flight share its lookup, a new name beyond the bound is
/// refused with `.resolverBusy`. One place is kept for the pinned name (the hub, or its proxy),
/// whose cache entry is its own: user lookups (direct-tcpip, web endpoints) never evict it.
/// The child keeps only its pipe (tether_resolve_spawn closes every other descriptor).
public final class Resolver: IOHandler {
    public static let defaultCacheTTLMilliseconds: UInt64 = 300_000
    public static let defaultTimeoutMilliseconds: UInt64 = 15_000
    static let recordSize = Int(TETHER_RESOLVE_RECORD)
    static let maxRecords = Int(TETHER_RESOLVE_MAX) + 1
    static let bufferSize = recordSize * maxRecords
    private static let reapRetryMilliseconds: UInt64 = 20

    public typealias Completion = (Result<[SocketAddress], SocketError>) -> Void

    /// Addresses of one name; ports are the caller's, set on the way out.
    private struct CacheEntry {
        var host = ""
        var addresses: [SocketAddress] = []
        var expires: UInt64 = 0
        var lastUse: UInt64 = 0
    }

    private struct Lookup {
        var host = ""
        var pid: Int32 = 0
        var fd: Int32 = -1
        var timer = TimerToken.none
        var used = 0
        var waiting: [(port: UInt16, completion: Completion)] = []
    }

    private let loop: EventLoop
    public let cacheTTL: UInt64
    public let timeout: UInt64
    /// Entry 0 belongs to the pinned host; the others are shared, least recently used first out.
    private var cache: [CacheEntry]
    private var pinned = ""
    private var useCounter: UInt64 = 0
    private var running: [Lookup]
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    /// Child processes forked so far (tests and statistics).
    public private(set) var lookups = 0

    public init(loop: EventLoop, cacheTTLMilliseconds: UInt64 = Resolver.defaultCacheTTLMilliseconds,
                timeoutMilliseconds: UInt64 = Resolver.defaultTimeoutMilliseconds) {
        self.loop = loop
        self.cacheTTL = cacheTTLMilliseconds
        self.timeout = timeoutMilliseconds
        cache = Array(repeating: CacheEntry(), count: 1 + ResolverLimits.cacheEntries)
        running = Array(repeating: Lookup(), count: ResolverLimits.lookups)
        buffer = .allocate(capacity: Resolver.bufferSize * ResolverLimits.lookups)
    }

    deinit {
        for i in running.indices { abandon(i) }
        buffer.deallocate()
    }

    /// Gives `host` (the hub's name, or its proxy's) the cache entry of its own and a lookup
    /// place other names cannot take.
    public func pin(host: String) {
        guard host != pinned, SocketAddress(numericHost: host, port: 0) == nil else { return }
        if let i = slot(of: host) { cache[0] = cache[i]; cache[i] = CacheEntry() } else { cache[0] = CacheEntry() }
        pinned = host
    }

    /// Whether a child lookup is running.
    public var isBusy: Bool { running.contains { $0.fd >= 0 } }

    /// A fresh cached answer, if any.
    public func cached(host: String, port: UInt16) -> [SocketAddress]? {
        guard let i = slot(of: host), cache[i].expires > MonotonicClock.nowMilliseconds() else { return nil }
        return answer(i, port: port)
    }

    /// Puts an answer in the cache (tests; or a configured fallback address).
    public func seedCache(host: String, port: UInt16, addresses: [SocketAddress], ttlMilliseconds: UInt64) {
        store(host, addresses, expires: MonotonicClock.nowMilliseconds() + ttlMilliseconds)
    }

    /// Resolves `host` (name or literal) for TCP `port`. The completion runs from the loop, or
    /// at once for literals, cache hits and a refusal.
    public func resolve(host: String, port: UInt16, completion: @escaping Completion) {
        if let a = SocketAddress(numericHost: host, port: port) {
            completion(.success([a]))
            return
        }
        if let hit = cached(host: host, port: port) {
            completion(.success(hit))
            return
        }
        if let i = running.firstIndex(where: { $0.fd >= 0 && $0.host == host }) {
            running[i].waiting.append((port, completion))
            return
        }
        let active = running.reduce(0) { $0 + ($1.fd >= 0 ? 1 : 0) }
        guard let i = running.firstIndex(where: { $0.fd < 0 }),
              host == pinned || active < ResolverLimits.lookups - (pinned.isEmpty ? 0 : 1) else {
            completion(fallback(host, port, .resolverBusy))
            return
        }
        var pid: Int32 = 0
        let fd = tether_resolve_spawn(host, String(port), &pid)
        if fd < 0 {
            completion(fallback(host, port, .resolveFailed(host: host, reason: Errno.text(-fd))))
            return
        }
        lookups += 1
        running[i] = Lookup(host: host, pid: pid, fd: fd, waiting: [(port, completion)])
        do {
            try loop.register(fd: fd, interest: .readable, handler: self)
            running[i].timer = try loop.schedule(afterMilliseconds: timeout) { [self] in
                running[i].timer = .none
                finish(i, .failure(.resolveTimedOut(host: host)))
            }
        } catch {
            finish(i, .failure(.resolveFailed(host: host, reason: "event loop full")))
        }
    }

    public func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        guard let i = running.firstIndex(where: { $0.fd == fd }) else { return }
        let base = buffer.baseAddress! + i * Resolver.bufferSize
        // A pipe, not a socket: read(2), not recv(2).
        while running[i].used < Resolver.bufferSize {
            let used = running[i].used
            let n = read(fd, base + used, Resolver.bufferSize - used)
            if n > 0 { running[i].used += n; continue }
            if n < 0 && Errno.current == EINTR { continue }
            if n < 0 && Errno.current == EAGAIN { return }
            break
        }
        finish(i, parse(i, UnsafeBufferPointer(start: base, count: running[i].used)))
    }

    /// The child's records: addresses, then a final record with the getaddrinfo code.
    private func parse(_ i: Int, _ r: UnsafeBufferPointer<UInt8>) -> Result<[SocketAddress], SocketError> {
        let host = running[i].host
        var out: [SocketAddress] = []
        var b = 0
        while b + Resolver.recordSize <= r.count {
            switch r[b] {
            case 4: out.append(SocketAddress(family: .ipv4, bytes: Array(r[(b + 1)..<(b + 5)]), port: 0))
            case 6: out.append(SocketAddress(family: .ipv6, bytes: Array(r[(b + 1)..<(b + 17)]), port: 0))
            default:
                let code = Int32(bitPattern: UInt32(r[b + 1]) | UInt32(r[b + 2]) << 8
                                 | UInt32(r[b + 3]) << 16 | UInt32(r[b + 4]) << 24)
                if code != 0 {
                    let text = tether_gai_strerror(code).map { String(cString: $0) } ?? "error"
                    return .failure(.resolveFailed(host: host, reason: text))
                }
                if out.isEmpty { return .failure(.noAddresses(host: host)) }
                // IPv4 first: on boards without global IPv6 the v6 attempt would only add a
                // connect timeout before the v4 one.
                var ordered = out.filter { $0.family == .ipv4 }
                ordered += out.filter { $0.family == .ipv6 }
                store(host, ordered, expires: MonotonicClock.nowMilliseconds() + cacheTTL)
                return .success(ordered)
            }
            b += Resolver.recordSize
        }
        // The child died before its final record.
        return .failure(.resolveFailed(host: host, reason: "lookup process failed"))
    }

    private func slot(of host: String) -> Int? {
        if host.isEmpty { return nil }
        if host == pinned { return 0 }
        return cache.indices.dropFirst().first { cache[$0].host == host }
    }

    private func store(_ host: String, _ addresses: [SocketAddress], expires: UInt64) {
        var i = slot(of: host) ?? 1
        if cache[i].host != host {  // a new name takes an empty or the least recently used entry
            for k in cache.indices.dropFirst() where cache[k].lastUse < cache[i].lastUse { i = k }
        }
        useCounter += 1
        cache[i] = CacheEntry(host: host, addresses: addresses, expires: expires, lastUse: useCounter)
    }

    private func answer(_ i: Int, port: UInt16) -> [SocketAddress] {
        useCounter += 1
        cache[i].lastUse = useCounter
        return cache[i].addresses.map { SocketAddress(family: $0.family, bytes: $0.bytes, port: port) }
    }

    /// A stale answer for the same host beats an error.
    private func fallback(_ host: String, _ port: UInt16, _ error: SocketError) -> Result<[SocketAddress], SocketError> {
        if let i = slot(of: host), !cache[i].addresses.isEmpty { return .success(answer(i, port: port)) }
        return .failure(error)
    }

    /// Ends lookup `i` and answers its callers only; the place is free before they run.
    private func finish(_ i: Int, _ result: Result<[SocketAddress], SocketError>) {
        let host = running[i].host
        let callbacks = running[i].waiting
        abandon(i)
        for c in callbacks {
            switch result {
            case .success(let a): c.completion(.success(a.map { SocketAddress(family: $0.family, bytes: $0.bytes, port: c.port) }))
            case .failure(let e): c.completion(fallback(host, c.port, e))
            }
        }
    }

    private func abandon(_ i: Int) {
        let l = running[i]
        running[i] = Lookup()
        loop.cancel(l.timer)
        if l.fd >= 0 {
            loop.unregister(fd: l.fd)
            Socket.close(l.fd)
        }
        // Kill only a child that is still ours and running: once reaped (by us or by a
        // waitpid(-1) elsewhere) its pid may belong to someone else.
        if l.pid > 0 && tether_reap(l.pid) == 0 {
            _ = tether_kill(l.pid)
            Resolver.reap(l.pid, loop: loop, attempts: 50)
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

/// The resolver's fixed tables.
public enum ResolverLimits {
    /// Lookups (child processes) running at once; other names than the pinned one get one
    /// place less, so the hub's name can always be looked up.
    public static let lookups = 4
    /// Cached names besides the pinned one.
    public static let cacheEntries = 4
}
