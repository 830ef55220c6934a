import Foundation
import Testing
import CShims
@testable import TetherPlatform

final class RecordingHandler: IOHandler {
    var calls: [(Int32, IOEvents)] = []
    var readBytes: [UInt8] = []
    var onReady: ((Int32, IOEvents, EventLoop) -> Void)?
    func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        calls.append((fd, events))
        if events.contains(.readable) {
            var buf = [UInt8](repeating: 0, count: 64)
            let n = read(fd, &buf, 64)
            if n > 0 { readBytes += buf[0..<n] }
        }
        onReady?(fd, events, loop)
    }
}

@Suite(.serialized) struct EventLoopTests {
    @Test func readableDispatch() throws {
        let loop = EventLoop(maxDescriptors: 4, maxTimers: 4)
        let (a, b) = makeSocketPair()
        defer { close(a); close(b) }
        let h = RecordingHandler()
        try loop.register(fd: a, interest: .readable, handler: h)
        #expect(loop.runOnce(maxWaitMilliseconds: 0) == 0)
        _ = write(b, "hi", 2)
        #expect(loop.runOnce(maxWaitMilliseconds: 1000) == 1)
        #expect(h.readBytes == Array("hi".utf8))
        #expect(h.calls.count == 1 && h.calls[0].0 == a)
        loop.unregister(fd: a)
        _ = write(b, "x", 1)
        #expect(loop.runOnce(maxWaitMilliseconds: 0) == 0)
        #expect(loop.descriptorCount == 0)
    }

    @Test func writeInterestAndHangup() throws {
        let loop = EventLoop(maxDescriptors: 4, maxTimers: 4)
        let (a, b) = makeSocketPair()
        defer { close(a) }
        let h = RecordingHandler()
        try loop.register(fd: a, interest: [], handler: h)
        #expect(loop.runOnce(maxWaitMilliseconds: 0) == 0)
        try loop.setInterest(fd: a, .writable)
        #expect(loop.runOnce(maxWaitMilliseconds: 100) == 1)
        #expect(h.calls.last!.1.contains(.writable))
        try loop.setInterest(fd: a, .readable)
        close(b)
        #expect(loop.runOnce(maxWaitMilliseconds: 100) == 1)
        #expect(h.calls.last!.1.contains(.readable))  // EOF reads as readable (POLLIN|POLLHUP)
        #expect(throws: EventLoopError.alreadyRegistered(a)) {
            try loop.register(fd: a, interest: .readable, handler: h)
        }
        #expect(throws: EventLoopError.notRegistered(99)) { try loop.setInterest(fd: 99, .readable) }
    }

    @Test func fixedTables() throws {
        let loop = EventLoop(maxDescriptors: 2, maxTimers: 2)
        let h = RecordingHandler()
        try loop.register(fd: 100, interest: .readable, handler: h)
        try loop.register(fd: 101, interest: .readable, handler: h)
        #expect(throws: EventLoopError.descriptorTableFull) {
            try loop.register(fd: 102, interest: .readable, handler: h)
        }
        loop.unregister(fd: 100)
        try loop.register(fd: 102, interest: .readable, handler: h)
        try loop.schedule(afterMilliseconds: 1000) {}
        let t = try loop.schedule(afterMilliseconds: 1000) {}
        #expect(throws: EventLoopError.timerTableFull) { try loop.schedule(afterMilliseconds: 1) {} }
        loop.cancel(t)
        try loop.schedule(afterMilliseconds: 1) {}
    }

    @Test func timersFireInOrderWithOneWakeupEach() throws {
        let loop = EventLoop(maxDescriptors: 4, maxTimers: 8)
        var order: [Int] = []
        let start = MonotonicClock.nowMilliseconds()
        try loop.schedule(afterMilliseconds: 60) { order.append(3); loop.stop() }
        try loop.schedule(afterMilliseconds: 20) { order.append(1) }
        try loop.schedule(afterMilliseconds: 40) { order.append(2) }
        let cancelled = try loop.schedule(afterMilliseconds: 30) { order.append(99) }
        loop.cancel(cancelled)
        #expect(!loop.isPending(cancelled))
        loop.run()
        let elapsed = MonotonicClock.nowMilliseconds() - start
        #expect(order == [1, 2, 3])
        #expect(elapsed >= 60 && elapsed < 1000)
        // No periodic tick: one poll return per deadline.
        #expect(loop.wakeups == 3)
        #expect(loop.timerCount == 0)
        loop.cancel(cancelled)  // stale token: harmless
    }

    @Test func idleLoopSleepsUntilDeadline() throws {
        let loop = EventLoop()
        var fired = false
        try loop.schedule(afterMilliseconds: 150) { fired = true }
        let before = MonotonicClock.nowMilliseconds()
        loop.runOnce()
        #expect(fired)
        #expect(MonotonicClock.nowMilliseconds() - before >= 150)
        #expect(loop.wakeups == 1)
    }

    @Test func timerRearmingItselfDoesNotSpin() throws {
        let loop = EventLoop(maxDescriptors: 2, maxTimers: 2)
        var count = 0
        func arm() { _ = try? loop.schedule(afterMilliseconds: 0) { count += 1; arm() } }
        arm()
        loop.runOnce(maxWaitMilliseconds: 0)
        #expect(count == 1)
        loop.runOnce(maxWaitMilliseconds: 0)
        #expect(count == 2)
    }

    @Test func handlerMayUnregisterAnother() throws {
        let loop = EventLoop(maxDescriptors: 4, maxTimers: 2)
        let (a, b) = makeSocketPair()
        let (c, d) = makeSocketPair()
        defer { close(a); close(b); close(c); close(d) }
        let h1 = RecordingHandler(), h2 = RecordingHandler()
        h1.onReady = { _, _, loop in loop.unregister(fd: c) }
        h2.onReady = { _, _, loop in loop.unregister(fd: a) }
        try loop.register(fd: a, interest: .readable, handler: h1)
        try loop.register(fd: c, interest: .readable, handler: h2)
        _ = write(b, "1", 1)
        _ = write(d, "2", 1)
        #expect(loop.runOnce(maxWaitMilliseconds: 100) == 1)
        #expect(h1.calls.count + h2.calls.count == 1)
    }

    @Test func signalsThroughSelfPipe() throws {
        let loop = EventLoop()
        var hangups = 0
        try loop.watchSignals(hangup: { hangups += 1 })
        defer { loop.unwatchSignals() }
        _ = tether_raise(SIGHUP)
        loop.runOnce(maxWaitMilliseconds: 1000)
        #expect(hangups == 1)
        // TERM: default action stops run() promptly.
        try loop.schedule(afterMilliseconds: 30) { _ = tether_raise(SIGTERM) }
        let before = MonotonicClock.nowMilliseconds()
        loop.run()
        #expect(MonotonicClock.nowMilliseconds() - before < 1000)
        #expect(!loop.isRunning)
    }

    @Test func extraSignalsAndChildren() throws {
        let loop = EventLoop()
        var usr1 = 0
        try loop.watchSignals()
        try loop.watch(signal: SIGUSR1) { usr1 += 1 }
        defer { loop.unwatchSignals() }
        _ = tether_raise(SIGUSR1)
        _ = tether_raise(SIGUSR1)
        loop.runOnce(maxWaitMilliseconds: 1000)
        if usr1 < 2 { loop.runOnce(maxWaitMilliseconds: 100) }
        #expect(usr1 >= 1)  // standard signals may coalesce
        #expect(loop.isRunning == false)
    }
}
