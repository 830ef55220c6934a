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

    @Test func busyWithAnotherHost() throws {
        let loop = EventLoop()
        let r = Resolver(loop: loop)
        var first: Result<[SocketAddress], SocketError>?
        var second: Result<[SocketAddress], SocketError>?
        var third: Result<[SocketAddress], SocketError>?
        r.resolve(host: "localhost", port: 1) { first = $0 }
        r.resolve(host: "localhost", port: 1) { second = $0 }
        r.resolve(host: "ip6-localhost", port: 1) { third = $0 }
        #expect(third == .failure(.resolverBusy))
        while first == nil { loop.runOnce(maxWaitMilliseconds: 100) }
        #expect(second != nil)
        #expect(r.lookups == 1)
    }
}
