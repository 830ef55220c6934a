import Foundation
import Testing
import CShims
@testable import TetherPlatform

/// A listening TCP socket on an ephemeral loopback port.
func listenLoopback(ipv6: Bool = false, backlog: Int32 = 16) -> (fd: Int32, port: UInt16) {
    let addr = SocketAddress(numericHost: ipv6 ? "::1" : "127.0.0.1", port: 0)!
    let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0)
    _ = tether_setsockopt_int(fd, SOL_SOCKET, SO_REUSEADDR, 1)
    let rc = addr.withSockaddr { bind(fd, $0, $1) }
    precondition(rc == 0)
    precondition(listen(fd, backlog) == 0)
    var ss = sockaddr_storage()
    var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
    _ = withUnsafeMutablePointer(to: &ss) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    let port = withUnsafeBytes(of: &ss) { raw in UInt16(raw[2]) << 8 | UInt16(raw[3]) }
    return (fd, port)
}

@Suite struct SocketAddressTests {
    @Test func parsesLiterals() {
        let a = SocketAddress(numericHost: "192.0.2.7", port: 443)!
        #expect(a.family == .ipv4 && a.bytes == [192, 0, 2, 7])
        #expect(a.text == "192.0.2.7:443")
        let b = SocketAddress(numericHost: "[2001:db8::1]", port: 80)!
        #expect(b.family == .ipv6 && b.bytes.count == 16)
        #expect(b.text == "[2001:db8::1]:80")
        #expect(SocketAddress(numericHost: "hub.example.com", port: 1) == nil)
        #expect(SocketAddress.isNumericHost("::1"))
        #expect(!SocketAddress.isNumericHost("localhost"))
    }
}

@Suite struct SocketIOTests {
    @Test func wouldBlockIsDistinct() {
        let (a, b) = makeSocketPair()
        defer { close(a) }
        var buf = [UInt8](repeating: 0, count: 4096)
        #expect(buf.withUnsafeMutableBytes { Socket.read(a, into: $0) } == .wouldBlock)
        var total = 0
        var last = IOResult.bytes(0)
        for _ in 0..<10_000 {
            last = Socket.write(b, buf)
            guard case .bytes(let n) = last else { break }
            total += n
        }
        #expect(last == .wouldBlock)
        #expect(total > 0)
        #expect(buf.withUnsafeMutableBytes { Socket.read(a, into: $0) } == .bytes(4096))
        close(b)
        var drained = 0
        while case .bytes(let n) = buf.withUnsafeMutableBytes({ Socket.read(a, into: $0) }) { drained += n }
        #expect(drained + 4096 == total)
        #expect(buf.withUnsafeMutableBytes { Socket.read(a, into: $0) } == .closed)
        // Writing to a closed peer: EPIPE, no SIGPIPE.
        #expect(Socket.write(a, [1]) == .failed(EPIPE))
    }
}

@Suite(.serialized) struct ConnectorTests {
    func connect(_ addresses: [SocketAddress], timeout: UInt64 = 2000) -> Result<Int32, SocketError>? {
        let loop = EventLoop()
        var result: Result<Int32, SocketError>?
        let c = TCPConnector(loop: loop, addresses: addresses, attemptTimeoutMilliseconds: timeout) {
            result = $0
        }
        c.start()
        let deadline = MonotonicClock.nowMilliseconds() + 5000
        while result == nil && MonotonicClock.nowMilliseconds() < deadline { loop.runOnce(maxWaitMilliseconds: 100) }
        #expect(loop.descriptorCount == 0)
        #expect(loop.timerCount == 0)
        return result
    }

    @Test(arguments: [false, true]) func connectsWithOptions(ipv6: Bool) throws {
        let l = listenLoopback(ipv6: ipv6)
        defer { close(l.fd) }
        let addr = SocketAddress(numericHost: ipv6 ? "::1" : "127.0.0.1", port: l.port)!
        let fd = try #require(try connect([addr])?.get())
        defer { close(fd) }
        var v: Int32 = -1
        #expect(tether_getsockopt_int(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &v) == 0 && v == 1)
        #expect(tether_getsockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE, &v) == 0 && v == 0)
        #expect(fcntl(fd, F_GETFL) & O_NONBLOCK != 0)
        #expect(Socket.setKeepAlive(fd, idle: 60))
        #expect(tether_getsockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE, &v) == 0 && v == 1)
    }

    @Test func refusedMovesToNextAddress() throws {
        let dead = listenLoopback()
        close(dead.fd)  // nothing listens there now
        let live = listenLoopback()
        defer { close(live.fd) }
        let r = connect([SocketAddress(numericHost: "127.0.0.1", port: dead.port)!,
                         SocketAddress(numericHost: "127.0.0.1", port: live.port)!])
        let fd = try #require(try r?.get())
        close(fd)
        let only = connect([SocketAddress(numericHost: "127.0.0.1", port: dead.port)!])
        guard case .failure(.connectFailed(_, let e)) = only else {
            Issue.record("expected refusal"); return
        }
        #expect(e == ECONNREFUSED)
    }

    @Test func attemptTimesOut() throws {
        // A listener whose accept queue is full drops further SYNs: connect hangs.
        let l = listenLoopback(backlog: 0)
        defer { close(l.fd) }
        let addr = SocketAddress(numericHost: "127.0.0.1", port: l.port)!
        var held: [Int32] = []
        defer { held.forEach { close($0) } }
        for _ in 0..<4 {
            let (fd, done) = try Socket.startConnect(to: addr)
            held.append(fd)
            _ = done
        }
        usleep(50_000)
        let start = MonotonicClock.nowMilliseconds()
        let r = connect([addr], timeout: 200)
        let elapsed = MonotonicClock.nowMilliseconds() - start
        guard case .failure(.connectTimedOut) = r else {
            Issue.record("expected timeout, got \(String(describing: r))"); return
        }
        #expect(elapsed >= 200 && elapsed < 2000)
    }
}

@Suite(.serialized) struct ResolverTests {
    func resolve(_ resolver: Resolver, _ loop: EventLoop, _ host: String) -> Result<[SocketAddress], SocketError>? {
        var result: Result<[SocketAddress], SocketError>?
        resolver.resolve(host: host, port: 8443) { result = $0 }
        let deadline = MonotonicClock.nowMilliseconds() + 5000
        while result == nil && MonotonicClock.nowMilliseconds() < deadline { loop.runOnce(maxWaitMilliseconds: 100) }
        return result
    }

    @Test func literalNeedsNoChild() throws {
        let loop = EventLoop()
        let r = Resolver(loop: loop)
        let a = try resolve(r, loop, "10.1.2.3")!.get()
        #expect(a == [SocketAddress(numericHost: "10.1.2.3", port: 8443)!])
        #expect(r.lookups == 0)
    }

    @Test func localhostInChildThenCache() throws {
        let loop = EventLoop()
        let r = Resolver(loop: loop)
        let before = loop.wakeups
        let a = try resolve(r, loop, "localhost")!.get()
        #expect(a.contains(SocketAddress(numericHost: "127.0.0.1", port: 8443)!))
        #expect(a.first?.family == .ipv4)
        #expect(r.lookups == 1)
        #expect(loop.wakeups > before)  // the answer came through the loop
        #expect(!r.isBusy)
        let b = try resolve(r, loop, "localhost")!.get()
        #expect(b == a)
        #expect(r.lookups == 1)  // cache hit
        // Drain the reaper timer: no zombie, no timer left behind.
        while loop.timerCount > 0 { loop.runOnce(maxWaitMilliseconds: 50) }
    }

    @Test func failureWithoutCacheIsAnError() throws {
        let loop = EventLoop()
        let r = Resolver(loop: loop, timeoutMilliseconds: 500)
        let result = resolve(r, loop, "no-such-host.invalid")
        guard case .failure(let e) = result else { Issue.record("expected failure"); return }
        switch e {
        case .resolveFailed, .resolveTimedOut, .noAddresses: break
        default: Issue.record("unexpected \(e.message)")
        }
        #expect(!r.isBusy)
        #expect(loop.descriptorCount == 0)
    }

    @Test func staleAnswerBeatsFailure() throws {
        let loop = EventLoop()
        let r = Resolver(loop: loop, timeoutMilliseconds: 500)
        let stale = [SocketAddress(numericHost: "192.0.2.9", port: 8443)!]
        r.seedCache(host: "no-such-host.invalid", port: 8443, addresses: stale, ttlMilliseconds: 0)
        #expect(r.cached(host: "no-such-host.invalid", port: 8443) == nil)  // expired
        let b = try resolve(r, loop, "no-such-host.invalid")!.get()
        #expect(b == stale)
        #expect(r.lookups == 1)
    }

    @Test func sameNameSharesOneLookup() throws {
        let loop = EventLoop()
        let r = Resolver(loop: loop)
        var first: Result<[SocketAddress], SocketError>?
        var second: Result<[SocketAddress], SocketError>?
        var otherPort: Result<[SocketAddress], SocketError>?
        r.resolve(host: "localhost", port: 1) { first = $0 }
        r.resolve(host: "localhost", port: 1) { second = $0 }
        r.resolve(host: "localhost", port: 2) { otherPort = $0 }
        while first == nil || second == nil || otherPort == nil { loop.runOnce(maxWaitMilliseconds: 100) }
        #expect(r.lookups == 2)  // one for port 1 (shared), one for port 2
        #expect(try first!.get().contains(SocketAddress(numericHost: "127.0.0.1", port: 1)!))
        #expect(try second!.get() == first!.get())
        #expect(try otherPort!.get().contains(SocketAddress(numericHost: "127.0.0.1", port: 2)!))
        while loop.timerCount > 0 { loop.runOnce(maxWaitMilliseconds: 50) }
    }

    /// Two names at once, each in its own child: the failing one fails only its caller.
    @Test func differentNamesResolveAtOnce() throws {
        let loop = EventLoop()
        let r = Resolver(loop: loop, timeoutMilliseconds: 3000)
        var good: Result<[SocketAddress], SocketError>?
        var bad: Result<[SocketAddress], SocketError>?
        r.resolve(host: "localhost", port: 1) { good = $0 }
        r.resolve(host: "no-such-host.invalid", port: 1) { bad = $0 }
        #expect(r.lookups == 2)
        let deadline = MonotonicClock.nowMilliseconds() + 5000
        while (good == nil || bad == nil) && MonotonicClock.nowMilliseconds() < deadline {
            loop.runOnce(maxWaitMilliseconds: 100)
        }
        #expect(try good?.get().contains(SocketAddress(numericHost: "127.0.0.1", port: 1)!) == true)
        guard case .failure(let e) = bad else { Issue.record("expected failure, got \(String(describing: bad))"); return }
        #expect(e != .resolverBusy)
        #expect(!r.isBusy)
        #expect(loop.descriptorCount == 0)
        while loop.timerCount > 0 { loop.runOnce(maxWaitMilliseconds: 50) }
    }

    /// Beyond the bound a new name is refused at once; a name in flight still joins, and a
    /// finished lookup frees its place.
    @Test func boundedLookups() throws {
        let loop = EventLoop()
        let r = Resolver(loop: loop, timeoutMilliseconds: 3000)
        r.pin(host: "hub.invalid", port: 1)
        var results: [Result<[SocketAddress], SocketError>?] = Array(repeating: nil, count: 16)
        var n = 0
        while n < results.count {
            let k = n
            r.resolve(host: "n" + String(k) + ".invalid", port: 1) { results[k] = $0 }
            if results[k] == .failure(.resolverBusy) { break }
            n += 1
        }
        #expect(n == ResolverLimits.lookups - 1)  // one place is kept for the pinned host
        var joined: Result<[SocketAddress], SocketError>?
        var hub: Result<[SocketAddress], SocketError>?
        r.resolve(host: "n0.invalid", port: 1) { joined = $0 }
        r.resolve(host: "hub.invalid", port: 1) { hub = $0 }
        #expect(joined == nil && hub == nil)
        #expect(r.lookups == n + 1)
        var refused: Result<[SocketAddress], SocketError>?
        r.resolve(host: "other.invalid", port: 1) { refused = $0 }
        #expect(refused == .failure(.resolverBusy))
        let deadline = MonotonicClock.nowMilliseconds() + 5000
        while (joined == nil || hub == nil || results[0..<n].contains(where: { $0 == nil }))
                && MonotonicClock.nowMilliseconds() < deadline {
            loop.runOnce(maxWaitMilliseconds: 100)
        }
        #expect(joined != nil && joined != .failure(.resolverBusy))
        #expect(hub != nil && hub != .failure(.resolverBusy))
        #expect(!results[0..<n].contains(where: { $0 == nil || $0 == .failure(.resolverBusy) }))
        #expect(try resolve(r, loop, "localhost")!.get().first?.port == 8443)
        #expect(loop.descriptorCount == 0)
        while loop.timerCount > 0 { loop.runOnce(maxWaitMilliseconds: 50) }
    }

    /// The hub's name keeps its own cache entry: lookups of other names (direct-tcpip, web
    /// endpoints) never push it out, so its stale answer still beats a failure.
    @Test func pinnedHostKeepsItsEntry() throws {
        let loop = EventLoop()
        let r = Resolver(loop: loop, timeoutMilliseconds: 2000)
        r.pin(host: "hub.invalid", port: 443)
        let stale = [SocketAddress(numericHost: "192.0.2.9", port: 443)!]
        r.seedCache(host: "hub.invalid", port: 443, addresses: stale, ttlMilliseconds: 0)
        for k in 0..<(ResolverLimits.cacheEntries + 2) {
            let a = SocketAddress(numericHost: "192.0.2." + String(20 + k), port: 1)!
            r.seedCache(host: "user" + String(k) + ".invalid", port: 1, addresses: [a], ttlMilliseconds: 60_000)
        }
        // Least recently used went first; the newest are kept.
        #expect(r.cached(host: "user0.invalid", port: 1) == nil)
        #expect(r.cached(host: "user" + String(ResolverLimits.cacheEntries + 1) + ".invalid", port: 1) != nil)
        var hub: Result<[SocketAddress], SocketError>?
        r.resolve(host: "hub.invalid", port: 443) { hub = $0 }
        let deadline = MonotonicClock.nowMilliseconds() + 5000
        while hub == nil && MonotonicClock.nowMilliseconds() < deadline { loop.runOnce(maxWaitMilliseconds: 100) }
        #expect(try hub?.get() == stale)
        while loop.timerCount > 0 { loop.runOnce(maxWaitMilliseconds: 50) }
    }
}
