import Foundation
import Testing
import CShims
@testable import TetherPlatform

@Suite(.serialized) struct ByteQueueTests {
    init() { tether_ignore_sigpipe() }

    @Test func drainsIntoAPipe() {
        var p: [Int32] = [-1, -1]
        #expect(pipe(&p) == 0)
        defer { close(p[0]) }
        _ = tether_set_nonblocking(p[1])
        var q = ByteQueue()
        #expect(q.write(to: p[1]) == .drained)  // nothing queued
        Array("to the child".utf8).withUnsafeBytes { q.append($0) }
        #expect(q.count == 12)
        #expect(q.write(to: p[1]) == .drained)
        #expect(q.isEmpty && q.held == 0)
        var buf = [UInt8](repeating: 0, count: 64)
        #expect(read(p[0], &buf, 64) == 12)
        close(p[1])
    }

    @Test func blockedKeepsTheRestAndFailedKeepsAll() {
        let (a, b) = makeSocketPair()
        Socket.setSendBuffer(a, bytes: 1024)
        var q = ByteQueue()
        let data = pattern(100_000)
        data.withUnsafeBytes { q.append($0) }
        #expect(q.write(to: a) == .blocked)
        let left = q.count
        #expect(left > 0 && left < data.count)
        let got = drain(b).bytes
        #expect(got == Array(data[0..<(data.count - left)]))
        close(b)
        #expect(q.write(to: a) == .failed(EPIPE))
        #expect(q.count == left)
        q.removeAll()
        #expect(q.isEmpty && q.held == 0)
        close(a)
    }

    @Test func theWrittenPrefixIsDroppedSoMemoryStaysBounded() {
        let (a, b) = makeSocketPair()
        defer { close(a); close(b) }
        Socket.setSendBuffer(a, bytes: 1024)
        var q = ByteQueue()
        var sent: [UInt8] = []
        var got: [UInt8] = []
        // More is queued each round than the socket takes, so the queue never empties and
        // only compaction can drop what was written.
        for round in 0..<60 {
            let more = pattern(10_000 + round)
            sent += more
            more.withUnsafeBytes { q.append($0) }
            #expect(q.write(to: a) == .blocked)
            #expect(q.held - q.count <= ByteQueue.compactAbove)
            got += drain(b).bytes
        }
        #expect(got.count > 2 * ByteQueue.compactAbove)  // compaction had to happen
        while q.write(to: a) != .drained { got += drain(b).bytes }
        got += drain(b).bytes
        #expect(got == sent)
        #expect(q.isEmpty && q.held == 0)
    }
}
