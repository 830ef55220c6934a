import Foundation
import Testing
import CShims
@testable import TetherPlatform

/// Records what an `FdPump` tells its owner; `room` shrinks by what it is given.
final class PumpRecorder: FdPumpOwner {
    var room = Int.max
    var produced: [UInt8] = []
    var wrote = 0
    var readFinished = 0
    var ends: [PumpEnd] = []

    func pumpSendRoom(_ tag: Int) -> Int { room }
    func pump(_ tag: Int, produced bytes: UnsafeRawBufferPointer) {
        produced += bytes
        if room != Int.max { room -= bytes.count }
    }
    func pump(_ tag: Int, wrote count: Int) { wrote += count }
    func pumpReadFinished(_ tag: Int) { readFinished += 1 }
    func pumpEnded(_ tag: Int, reason: PumpEnd) { ends.append(reason) }
}

/// Runs the loop until `done` holds (or two seconds pass); returns `done()`.
@discardableResult
func spin(_ loop: EventLoop, until done: () -> Bool) -> Bool {
    let deadline = MonotonicClock.nowMilliseconds() + 2000
    while !done() {
        if MonotonicClock.nowMilliseconds() >= deadline { return false }
        loop.runOnce(maxWaitMilliseconds: 20)
    }
    return true
}

@Suite(.serialized) struct FdPumpTests {
    init() { tether_ignore_sigpipe() }

    @Test func readsGoToTheOwnerAndDeliveriesToTheFd() throws {
        let loop = EventLoop(maxDescriptors: 4, maxTimers: 4)
        let (a, b) = makeSocketPair()
        defer { close(b) }
        let owner = PumpRecorder()
        let pump = try #require(FdPump(loop: loop, fd: a, tag: 3, owner: owner))
        _ = write(b, "ping", 4)
        #expect(spin(loop) { owner.produced.count == 4 })
        #expect(owner.produced == Array("ping".utf8))
        pump.deliver(Array("pong".utf8))
        #expect(owner.wrote == 4 && pump.pendingOut == 0)
        #expect(drain(b).bytes == Array("pong".utf8))
        pump.terminate()
    }

    @Test func noRoomStopsReadingAndResumeReadsOn() throws {
        let loop = EventLoop(maxDescriptors: 4, maxTimers: 4)
        let (a, b) = makeSocketPair()
        defer { close(b) }
        let owner = PumpRecorder()
        owner.room = 0
        let pump = try #require(FdPump(loop: loop, fd: a, tag: 0, owner: owner))
        _ = write(b, "0123456789", 10)
        loop.runOnce(maxWaitMilliseconds: 100)
        #expect(owner.produced.isEmpty)
        #expect(loop.interest(of: a) == [])  // paused: the loop does not wake for it
        owner.room = 4
        pump.resume()
        #expect(owner.produced == Array("0123".utf8))  // never more than the room
        #expect(loop.interest(of: a) == [])
        owner.room = Int.max
        pump.resume()
        #expect(owner.produced == Array("0123456789".utf8))
        #expect(loop.interest(of: a) == .readable)
        pump.terminate()
    }

    @Test func remoteClosedShutsDownOnceTheQueueDrains() throws {
        let loop = EventLoop(maxDescriptors: 4, maxTimers: 4)
        let (a, b) = makeSocketPair()
        defer { close(b) }
        Socket.setSendBuffer(a, bytes: 4096)
        let owner = PumpRecorder()
        let pump = try #require(FdPump(loop: loop, fd: a, tag: 0, owner: owner))
        let data = pattern(200_000)
        pump.deliver(data)
        pump.remoteClosed()
        #expect(pump.pendingOut > 0)
        var got: [UInt8] = []
        var eof = false
        #expect(spin(loop) {
            let (bytes, end) = drain(b)
            got += bytes
            eof = eof || end
            return eof
        })
        #expect(got == data)  // all of it, then EOF: shut down after the queue, not before
        #expect(owner.wrote == data.count && owner.ends.isEmpty)
        _ = write(b, "after", 5)  // the read side stays open
        #expect(spin(loop) { owner.produced.count == 5 })
        pump.terminate()
    }

    @Test func readEOFEndsOnceAsFinished() throws {
        let loop = EventLoop(maxDescriptors: 4, maxTimers: 4)
        let (a, b) = makeSocketPair()
        let owner = PumpRecorder()
        let pump = try #require(FdPump(loop: loop, fd: a, tag: 0, owner: owner))
        _ = write(b, "bye", 3)
        close(b)
        #expect(spin(loop) { !owner.ends.isEmpty })
        loop.runOnce(maxWaitMilliseconds: 20)
        pump.deliver([1])
        pump.terminate()
        #expect(owner.produced == Array("bye".utf8))
        #expect(owner.ends == [.finished])
        #expect(PumpEnd.finished.text == "local end finished")
        #expect(pump.fd == -1 && loop.descriptorCount == 0)
    }

    @Test func writeToAClosedPeerFails() throws {
        let loop = EventLoop(maxDescriptors: 4, maxTimers: 4)
        let (a, b) = makeSocketPair()
        let owner = PumpRecorder()
        owner.room = 0  // not reading: the write finds the peer gone
        let pump = try #require(FdPump(loop: loop, fd: a, tag: 0, owner: owner))
        close(b)
        pump.deliver([1, 2, 3])
        pump.deliver([4])
        #expect(owner.ends == [.failed(EPIPE)])
        #expect(PumpEnd.failed(EPIPE).text == Errno.text(EPIPE))
        #expect(owner.wrote == 0 && loop.descriptorCount == 0)
    }

    @Test func terminateNeverCallsBack() throws {
        let loop = EventLoop(maxDescriptors: 4, maxTimers: 4)
        let (a, b) = makeSocketPair()
        let owner = PumpRecorder()
        let pump = try #require(FdPump(loop: loop, fd: a, tag: 0, owner: owner))
        pump.terminate()
        #expect(pump.fd == -1 && loop.descriptorCount == 0)
        #expect(drain(b).eof)  // the fd is closed
        close(b)
        pump.deliver([1])
        pump.resume()
        pump.terminate()
        loop.runOnce(maxWaitMilliseconds: 20)
        #expect(owner.ends.isEmpty && owner.produced.isEmpty && owner.wrote == 0)
    }

    @Test func partialWritesWithATinySendBuffer() throws {
        let loop = EventLoop(maxDescriptors: 4, maxTimers: 4)
        let (a, b) = makeSocketPair()
        defer { close(b) }
        Socket.setSendBuffer(a, bytes: 1024)
        let owner = PumpRecorder()
        let pump = try #require(FdPump(loop: loop, fd: a, tag: 0, owner: owner))
        let data = pattern(300_000)
        for i in stride(from: 0, to: data.count, by: 50_000) { pump.deliver(Array(data[i..<(i + 50_000)])) }
        #expect(loop.interest(of: a)?.contains(.writable) == true)
        var got: [UInt8] = []
        var wakeups = 0
        #expect(spin(loop) {
            wakeups += 1
            got += drain(b).bytes
            return got.count == data.count
        })
        #expect(got == data)
        #expect(owner.wrote == data.count && pump.pendingOut == 0)
        #expect(loop.interest(of: a) == .readable)
        #expect(wakeups > 10)  // it really went in pieces, each as much as the fd took
        pump.terminate()
    }

    @Test func halfClosingPumpReadsEOFAndGoesOnWriting() throws {
        let loop = EventLoop(maxDescriptors: 4, maxTimers: 4)
        let (a, b) = makeSocketPair()
        defer { close(b) }
        let owner = PumpRecorder()
        let pump = try #require(FdPump(loop: loop, fd: a, tag: 0, owner: owner, halfClose: true))
        _ = write(b, "last", 4)
        _ = shutdown(b, Int32(SHUT_WR))
        #expect(spin(loop) { owner.readFinished == 1 })
        #expect(owner.produced == Array("last".utf8) && owner.ends.isEmpty)
        #expect(loop.interest(of: a) == [])
        pump.deliver(Array("reply".utf8))
        #expect(drain(b).bytes == Array("reply".utf8))
        loop.runOnce(maxWaitMilliseconds: 20)
        #expect(owner.readFinished == 1 && owner.ends.isEmpty)
        pump.terminate()
    }
}
