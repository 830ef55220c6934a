import CShims

/// Readiness of a file descriptor, as interest (what to wait for) and as result (what came).
public struct IOEvents: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let readable = IOEvents(rawValue: 1)
    public static let writable = IOEvents(rawValue: 2)
    /// POLLERR/POLLHUP/POLLNVAL: always reported, never asked for.
    public static let hangup = IOEvents(rawValue: 4)
}

/// Receives readiness for the descriptors it registered. Handlers must tolerate a spurious
/// wake-up (a read returning would-block).
public protocol IOHandler: AnyObject {
    func ioReady(fd: Int32, events: IOEvents, loop: EventLoop)
}

/// Handle of a timer, for cancelling it. Stale tokens (the timer fired or was cancelled and its
/// slot reused) are recognised by their generation and ignored.
public struct TimerToken: Equatable, Sendable {
    let slot: Int32
    let generation: UInt32
    /// A token that names no timer; cancelling it does nothing.
    public static let none = TimerToken(slot: -1, generation: 0)
}

/// What can go wrong when driving the loop.
public enum EventLoopError: Error, Equatable {
    /// All `maxDescriptors` slots are in use.
    case descriptorTableFull
    /// All `maxTimers` slots are in use.
    case timerTableFull
    case alreadyRegistered(Int32)
    case notRegistered(Int32)
    /// Installing a signal handler or the self-pipe failed (errno).
    case signalSetupFailed(Int32)
}

/// One thread, one poll(2): descriptors with per-fd interest and handlers, one-shot timers kept
/// so the loop sleeps exactly until the nearest deadline (no periodic tick), and signals
/// delivered through a self-pipe. All tables are sized at start and never grow.
public final class EventLoop {
    /// Default table sizes: enough for a control connection, a few API calls and the slots.
    public static let defaultMaxDescriptors = 64
    public static let defaultMaxTimers = 128

    public let maxDescriptors: Int
    public let maxTimers: Int

    /// Times poll(2) returned (fd events, timer deadlines, signals, EINTR): the number a
    /// benchmark reports as wake-ups.
    public private(set) var wakeups: UInt64 = 0
    /// Monotonic time of the last wake-up (ns); timers are measured from it.
    public private(set) var nowNanoseconds: UInt64
    public var nowMilliseconds: UInt64 { nowNanoseconds / 1_000_000 }
    public private(set) var isRunning = false

    // Descriptor slots.
    private var fds: [Int32]
    private var interests: [IOEvents]
    private var handlers: [(any IOHandler)?]
    private var fdGenerations: [UInt32]
    private var freeFdSlots: [Int32]
    private var registeredCount = 0
    // poll(2) set, rebuilt when registrations change.
    private let pollSet: UnsafeMutablePointer<pollfd>
    private var pollSlots: [Int32]
    private var pollCount = 0
    private var pollDirty = true
    private var ready: [(slot: Int32, generation: UInt32, events: IOEvents)]

    // Timer slots.
    private var deadlines: [UInt64]
    private var timerSerials: [UInt64]
    private var timerGenerations: [UInt32]
    private var actions: [(() -> Void)?]
    private var freeTimerSlots: [Int32]
    private var nextTimerSerial: UInt64 = 1

    // Signals.
    private var signalReader: SignalPipeReader?
    var onTerminate: (() -> Void)?
    var onHangup: (() -> Void)?
    /// Other watched signals (e.g. SIGCHLD for the SSH sessions' children), few by nature.
    private var signalActions: [(signo: Int32, action: () -> Void)] = []
    private var stopRequested = false

    public init(maxDescriptors: Int = EventLoop.defaultMaxDescriptors,
                maxTimers: Int = EventLoop.defaultMaxTimers) {
        self.maxDescriptors = maxDescriptors
        self.maxTimers = maxTimers
        fds = [Int32](repeating: -1, count: maxDescriptors)
        interests = [IOEvents](repeating: [], count: maxDescriptors)
        handlers = [(any IOHandler)?](repeating: nil, count: maxDescriptors)
        fdGenerations = [UInt32](repeating: 0, count: maxDescriptors)
        freeFdSlots = []
        freeFdSlots.reserveCapacity(maxDescriptors)
        for i in stride(from: maxDescriptors - 1, through: 0, by: -1) { freeFdSlots.append(Int32(i)) }
        pollSet = .allocate(capacity: maxDescriptors)
        pollSlots = [Int32](repeating: -1, count: maxDescriptors)
        ready = []
        ready.reserveCapacity(maxDescriptors)
        deadlines = [UInt64](repeating: 0, count: maxTimers)
        timerSerials = [UInt64](repeating: 0, count: maxTimers)
        timerGenerations = [UInt32](repeating: 0, count: maxTimers)
        actions = [(() -> Void)?](repeating: nil, count: maxTimers)
        freeTimerSlots = []
        freeTimerSlots.reserveCapacity(maxTimers)
        for i in stride(from: maxTimers - 1, through: 0, by: -1) { freeTimerSlots.append(Int32(i)) }
        nowNanoseconds = MonotonicClock.nowNanoseconds()
    }

    deinit {
        pollSet.deallocate()
    }

    // MARK: descriptors

    /// Number of registered descriptors.
    public var descriptorCount: Int { registeredCount }

    /// Watches `fd` for `interest`; `handler` is called from `run` when it is ready.
    /// The loop keeps a strong reference to the handler until `unregister`.
    public func register(fd: Int32, interest: IOEvents, handler: any IOHandler) throws(EventLoopError) {
        if slot(of: fd) != nil { throw .alreadyRegistered(fd) }
        guard let s = freeFdSlots.popLast() else { throw .descriptorTableFull }
        let i = Int(s)
        fds[i] = fd
        interests[i] = interest
        handlers[i] = handler
        fdGenerations[i] &+= 1
        registeredCount += 1
        pollDirty = true
    }

    /// Changes what `fd` waits for (e.g. add `.writable` while output is queued).
    public func setInterest(fd: Int32, _ interest: IOEvents) throws(EventLoopError) {
        guard let i = slot(of: fd) else { throw .notRegistered(fd) }
        if interests[i] != interest {
            interests[i] = interest
            pollDirty = true
        }
    }

    /// Current interest of `fd`, nil if it is not registered.
    public func interest(of fd: Int32) -> IOEvents? {
        guard let i = slot(of: fd) else { return nil }
        return interests[i]
    }

    /// Stops watching `fd` (call before closing it). Unknown descriptors are ignored.
    public func unregister(fd: Int32) {
        guard let i = slot(of: fd) else { return }
        fds[i] = -1
        interests[i] = []
        handlers[i] = nil
        fdGenerations[i] &+= 1
        freeFdSlots.append(Int32(i))
        registeredCount -= 1
        pollDirty = true
    }

    private func slot(of fd: Int32) -> Int? {
        if fd < 0 { return nil }
        for i in 0..<maxDescriptors where fds[i] == fd { return i }
        return nil
    }

    // MARK: timers

    /// Number of armed timers.
    public var timerCount: Int { maxTimers - freeTimerSlots.count }

    /// Runs `action` once, `milliseconds` after the current loop time.
    @discardableResult
    public func schedule(afterMilliseconds milliseconds: UInt64,
                         _ action: @escaping () -> Void) throws(EventLoopError) -> TimerToken {
        try schedule(atNanoseconds: MonotonicClock.nowNanoseconds() &+ milliseconds &* 1_000_000, action)
    }

    /// Runs `action` once at the monotonic time `deadline` (ns).
    @discardableResult
    public func schedule(atNanoseconds deadline: UInt64,
                         _ action: @escaping () -> Void) throws(EventLoopError) -> TimerToken {
        guard let s = freeTimerSlots.popLast() else { throw .timerTableFull }
        let i = Int(s)
        deadlines[i] = deadline
        timerSerials[i] = nextTimerSerial
        nextTimerSerial += 1
        timerGenerations[i] &+= 1
        actions[i] = action
        return TimerToken(slot: s, generation: timerGenerations[i])
    }

    /// Cancels a pending timer; a token of a timer that already fired is ignored.
    public func cancel(_ token: TimerToken) {
        guard token.slot >= 0, Int(token.slot) < maxTimers else { return }
        let i = Int(token.slot)
        guard actions[i] != nil, timerGenerations[i] == token.generation else { return }
        freeTimer(i)
    }

    /// Whether `token` names a timer that has not fired nor been cancelled.
    public func isPending(_ token: TimerToken) -> Bool {
        guard token.slot >= 0, Int(token.slot) < maxTimers else { return false }
        let i = Int(token.slot)
        return actions[i] != nil && timerGenerations[i] == token.generation
    }

    private func freeTimer(_ i: Int) {
        actions[i] = nil
        timerGenerations[i] &+= 1
        freeTimerSlots.append(Int32(i))
    }

    /// The nearest timer deadline (ns), nil when no timer is armed.
    public var nextDeadline: UInt64? {
        var best: UInt64? = nil
        for i in 0..<maxTimers where actions[i] != nil {
            if best == nil || deadlines[i] < best! { best = deadlines[i] }
        }
        return best
    }

    // MARK: signals

    /// Routes SIGTERM/SIGINT to `terminate` (default: stop the loop) and SIGHUP to `hangup`
    /// (default: reopen the shared logger) through a self-pipe watched by this loop. Also
    /// ignores SIGPIPE, so a write to a closed socket fails with EPIPE.
    public func watchSignals(terminate: (() -> Void)? = nil,
                             hangup: (() -> Void)? = nil) throws(EventLoopError) {
        tether_ignore_sigpipe()
        let fd = tether_signal_pipe()
        if fd < 0 { throw .signalSetupFailed(-fd) }
        for signo in [SIGTERM, SIGINT, SIGHUP] {
            let rc = tether_signal_watch(signo)
            if rc < 0 { throw .signalSetupFailed(-rc) }
        }
        onTerminate = terminate
        onHangup = hangup
        if signalReader == nil {
            let reader = SignalPipeReader()
            try register(fd: fd, interest: .readable, handler: reader)
            signalReader = reader
        }
    }

    /// Puts back the default dispositions of SIGTERM/SIGINT/SIGHUP and stops watching the pipe.
    public func unwatchSignals() {
        for signo in [SIGTERM, SIGINT, SIGHUP] { _ = tether_signal_restore(signo) }
        for entry in signalActions { _ = tether_signal_restore(entry.signo) }
        signalActions.removeAll()
        if signalReader != nil {
            let fd = tether_signal_pipe()
            unregister(fd: fd)
            signalReader = nil
            // Leftover bytes would be delivered to whichever loop watches next.
            var byte: UInt8 = 0
            while read(fd, &byte, 1) > 0 {}
        }
    }

    /// Runs `action` from the loop whenever `signo` arrives (through the same self-pipe), e.g.
    /// SIGCHLD to reap children. Call `watchSignals` too, or the pipe is not watched.
    public func watch(signal signo: Int32, _ action: @escaping () -> Void) throws(EventLoopError) {
        let rc = tether_signal_watch(signo)
        if rc < 0 { throw .signalSetupFailed(-rc) }
        signalActions.removeAll { $0.signo == signo }
        signalActions.append((signo, action))
    }

    func deliver(signal signo: Int32) {
        for entry in signalActions where entry.signo == signo {
            entry.action()
            return
        }
        if signo == SIGHUP {
            if let h = onHangup { h() } else { Logger.shared.reopen() }
        } else {
            if let t = onTerminate { t() } else { stop() }
        }
    }

    // MARK: running

    /// Makes `run` return after the current dispatch pass.
    public func stop() { stopRequested = true }

    /// Runs until `stop` is called.
    public func run() {
        isRunning = true
        stopRequested = false
        while !stopRequested {
            runOnce()
        }
        isRunning = false
    }

    /// One pass: sleep in poll(2) until the nearest deadline, an fd event or a signal (at most
    /// `maxWaitMilliseconds` when given), then dispatch fd events and due timers.
    /// Returns the number of handlers and timer actions called.
    @discardableResult
    public func runOnce(maxWaitMilliseconds: Int? = nil) -> Int {
        if pollDirty { rebuildPollSet() }
        var timeout: Int32 = -1
        let before = MonotonicClock.nowNanoseconds()
        if let d = nextDeadline {
            // Round up: waking a fraction of a millisecond early would cost an extra wake-up.
            let remaining = d > before ? (d - before + 999_999) / 1_000_000 : 0
            timeout = Int32(clamping: remaining)
        }
        if let m = maxWaitMilliseconds, timeout < 0 || Int(timeout) > m { timeout = Int32(clamping: m) }
        let n = poll(pollSet, nfds_t(pollCount), timeout)
        wakeups &+= 1
        nowNanoseconds = MonotonicClock.nowNanoseconds()
        var dispatched = 0
        if n > 0 {
            ready.removeAll(keepingCapacity: true)
            for p in 0..<pollCount {
                let re = pollSet[p].revents
                if re == 0 { continue }
                var ev: IOEvents = []
                if re & Int16(POLLIN) != 0 { ev.insert(.readable) }
                if re & Int16(POLLOUT) != 0 { ev.insert(.writable) }
                if re & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { ev.insert(.hangup) }
                let s = pollSlots[p]
                ready.append((s, fdGenerations[Int(s)], ev))
            }
            for r in ready {
                let i = Int(r.slot)
                // A handler earlier in this pass may have unregistered (or replaced) this fd.
                guard fdGenerations[i] == r.generation, let h = handlers[i] else { continue }
                h.ioReady(fd: fds[i], events: r.events, loop: self)
                dispatched += 1
            }
        }
        dispatched += fireDueTimers()
        return dispatched
    }

    private func fireDueTimers() -> Int {
        // Timers armed while firing wait for the next pass even when already due: a timer
        // that re-arms itself with zero delay cannot starve the descriptors.
        let passSerial = nextTimerSerial
        let now = MonotonicClock.nowNanoseconds()
        var fired = 0
        var i = 0
        while i < maxTimers {
            if let action = actions[i], deadlines[i] <= now, timerSerials[i] < passSerial {
                freeTimer(i)
                action()
                fired += 1
            }
            i += 1
        }
        return fired
    }

    private func rebuildPollSet() {
        pollCount = 0
        for i in 0..<maxDescriptors where fds[i] >= 0 {
            var events: Int16 = 0
            if interests[i].contains(.readable) { events |= Int16(POLLIN) }
            if interests[i].contains(.writable) { events |= Int16(POLLOUT) }
            pollSet[pollCount] = pollfd(fd: fds[i], events: events, revents: 0)
            pollSlots[pollCount] = Int32(i)
            pollCount += 1
        }
        pollDirty = false
    }
}

/// Drains the signal self-pipe and hands each signal to the loop.
final class SignalPipeReader: IOHandler {
    func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        var buf = (UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0))
        while true {
            let n = withUnsafeMutableBytes(of: &buf) { read(fd, $0.baseAddress, 8) }
            if n <= 0 { return }
            withUnsafeBytes(of: &buf) { raw in
                for k in 0..<n { loop.deliver(signal: Int32(raw[k])) }
            }
        }
    }
}
