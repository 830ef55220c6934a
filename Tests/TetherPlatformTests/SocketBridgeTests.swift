import Foundation
import Testing
import CShims
@testable import TetherPlatform

/// A bridge between a "client" and a "server" socket, each the far end of a socketpair.
private struct BridgeRig {
    let loop = EventLoop(maxDescriptors: 4, maxTimers: 4)
    let client: Int32
    let server: Int32
    /// The bridge's own fds.
    let outer: Int32
    let inner: Int32
    let bridge: SocketBridge
    final class Count { var done = 0 }
    let count = Count()

    init() throws {
        let (client, outer) = makeSocketPair()
        let (inner, server) = makeSocketPair()
        self.client = client
        self.server = server
        self.outer = outer
        self.inner = inner
        bridge = try #require(SocketBridge(outer: outer, inner: inner, loop: loop))
        bridge.onDone = { [count] _ in count.done += 1 }
    }

    /// Writes all of `data` into `fd` while the loop runs; what reached `far` meanwhile.
    func push(_ data: [UInt8], into fd: Int32, reading far: Int32) -> [UInt8] {
        var sent = 0
        var got: [UInt8] = []
        while sent < data.count {
            let n = data.withUnsafeBytes { write(fd, $0.baseAddress! + sent, data.count - sent) }
            if n > 0 { sent += n }
            loop.runOnce(maxWaitMilliseconds: 5)
            got += drain(far).bytes
        }
        return got
    }

    /// Reads `fd` while the loop runs until it reaches EOF; everything it got.
    func readToEOF(_ fd: Int32) -> [UInt8]? {
        var got: [UInt8] = []
        var eof = false
        let ok = spin(loop) {
            let (bytes, end) = drain(fd)
            got += bytes
            eof = eof || end
            return eof
        }
        return ok ? got : nil
    }
}

@Suite(.serialized) struct SocketBridgeTests {
    init() { tether_ignore_sigpipe() }

    @Test func clientEOFHalfClosesTheServerSideAndRepliesStillFlow() throws {
        let rig = try BridgeRig()
        defer { close(rig.client); close(rig.server) }
        let request = pattern(150_000)
        var atServer = rig.push(request, into: rig.client, reading: rig.server)
        _ = shutdown(rig.client, Int32(SHUT_WR))
        atServer += try #require(rig.readToEOF(rig.server))
        #expect(atServer == request)  // all of it, then EOF
        #expect(rig.count.done == 0)  // still open the other way
        let reply = pattern(120_000)
        var atClient = rig.push(reply, into: rig.server, reading: rig.client)
        #expect(spin(rig.loop) {
            atClient += drain(rig.client).bytes
            return atClient.count >= reply.count
        })
        #expect(atClient == reply)
        #expect(rig.count.done == 0)
        close(rig.server)
        #expect(try #require(rig.readToEOF(rig.client)).isEmpty)
        #expect(rig.count.done == 1 && rig.loop.descriptorCount == 0)
    }

    @Test func serverEndSendsTheRestThenClosesBoth() throws {
        let rig = try BridgeRig()
        defer { close(rig.client) }
        Socket.setSendBuffer(rig.outer, bytes: 1024)
        // The client reads nothing yet: the bridge's queue toward it fills (its room then
        // stops the reading of the server side) while the server's end closes.
        let last = pattern(300_000)
        let sent = last.withUnsafeBytes { write(rig.server, $0.baseAddress, $0.count) }
        #expect(sent > SocketBridge.queueLimit)
        for _ in 0..<5 { rig.loop.runOnce(maxWaitMilliseconds: 10) }
        close(rig.server)
        let got = try #require(rig.readToEOF(rig.client))
        #expect(got == Array(last[0..<sent]))
        #expect(rig.count.done == 1 && rig.loop.descriptorCount == 0)
        // Closed, not half-closed: writing fails.
        #expect(write(rig.client, "x", 1) < 0)
    }

    @Test func clientGoneClosesBothAtOnce() throws {
        let rig = try BridgeRig()
        defer { close(rig.server) }
        _ = write(rig.server, "hello", 5)
        #expect(spin(rig.loop) { drain(rig.client).bytes == Array("hello".utf8) })
        close(rig.client)  // gone both ways: nothing to write is needed to notice
        #expect(try #require(rig.readToEOF(rig.server)).isEmpty)
        #expect(rig.count.done == 1 && rig.loop.descriptorCount == 0)
    }

    @Test func fullLoopRegistersNeither() {
        let loop = EventLoop(maxDescriptors: 1, maxTimers: 1)
        let (a, b) = makeSocketPair()
        let (c, d) = makeSocketPair()
        defer { for fd in [a, b, c, d] { close(fd) } }
        #expect(SocketBridge(outer: b, inner: c, loop: loop) == nil)
        #expect(loop.descriptorCount == 0)
        #expect(write(a, "x", 1) == 1 && write(d, "y", 1) == 1)  // both fds still open
    }
}
