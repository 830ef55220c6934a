import CShims
import TetherPlatform

/// Runs one `SSHServerConnection` on TetherPlatform's `EventLoop`: registers the fds the
/// connection asks for (its socket, children's pipes or pty, forwarded sockets, the agent
/// socket), re-syncs them after every `service`, keeps one timer at the connection's
/// `nextDeadline`, and reports the end through `onClosed` after unregistering everything.
/// The connection stays usable without it (any poll loop can drive it the same way).
public final class SSHConnectionDriver: IOHandler {
    public let connection: SSHServerConnection
    let loop: EventLoop
    var registered: [SSHPollInterest] = []
    var timer: TimerToken = .none
    var timerDeadline: Int64?
    var finished = false
    /// Called once when the connection has ended and its fds are unregistered.
    public var onClosed: ((SSHServerConnection) -> Void)?

    public init(connection: SSHServerConnection, loop: EventLoop) {
        self.connection = connection
        self.loop = loop
    }

    /// Registers the connection's fds and runs its first step (call once after creating).
    public func start() {
        poke()
    }

    /// Runs the connection now, e.g. after the runtime resolved its oracle ticket.
    public func poke() {
        connection.service(now: Int64(MonotonicClock.nowMilliseconds()))
        sync()
        let server = connection.server
        // A password check's child that ended without being reaped yet.
        if server.orphanCount > 0 { SSHConnectionDriver.scheduleReaping(server, loop: loop) }
        // A crypt child is free for a waiting connection: it starts its own in its service.
        if server.wakePending {
            server.wakePending = false
            server.wake?()
        }
    }

    public func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        poke()
    }

    private func sync() {
        if finished { return }
        if connection.state == .closed {
            end()
            return
        }
        if !syncDescriptors() { return }
        syncTimer()
    }

    /// The connection has ended: everything unregistered, then `onClosed`.
    private func end() {
        finished = true
        for r in registered { loop.unregister(fd: r.fd) }
        registered.removeAll()
        loop.cancel(timer)
        SSHConnectionDriver.scheduleReaping(connection.server, loop: loop)
        // Last statement: the owner may drop this driver from inside the callback.
        let done = onClosed
        onClosed = nil
        done?(connection)
    }

    /// Registers what the connection waits for now and unregisters the rest; false when the
    /// table was full and the connection was closed.
    private func syncDescriptors() -> Bool {
        var raw: [SSHPollInterest] = []
        connection.pollInterests(into: &raw)
        // One entry per fd (a pty master may be asked for twice).
        var wants: [SSHPollInterest] = []
        for w in raw {
            if let i = wants.firstIndex(where: { $0.fd == w.fd }) {
                wants[i].events |= w.events
            } else {
                wants.append(w)
            }
        }
        for r in registered where !wants.contains(where: { $0.fd == r.fd }) {
            loop.unregister(fd: r.fd)
        }
        registered.removeAll { r in !wants.contains { $0.fd == r.fd } }
        // All or nothing: a connection whose fds do not all fit is closed with every fd it had
        // unregistered (none left behind to spin on POLLNVAL once teardown closes them). The
        // runtime reserves SSHLimits.descriptorsPerConnection per slot, so this is the last line
        // of defence, not the limit a user meets (that is the channel limit).
        let fresh = wants.reduce(0) { n, w in registered.contains { $0.fd == w.fd } ? n : n + 1 }
        if fresh > loop.maxDescriptors - loop.descriptorCount {
            close(reason: "event loop descriptor table full")
            return false
        }
        var kept: [SSHPollInterest] = []
        for w in wants {
            var ev: IOEvents = []
            if w.events & Int16(POLLIN) != 0 { ev.insert(.readable) }
            if w.events & Int16(POLLOUT) != 0 { ev.insert(.writable) }
            do {
                if registered.contains(where: { $0.fd == w.fd }) {
                    try loop.setInterest(fd: w.fd, ev)
                } else {
                    try loop.register(fd: w.fd, interest: ev, handler: self)
                }
                kept.append(w)
            } catch {
                registered = kept + registered.filter { r in !kept.contains { $0.fd == r.fd } }
                close(reason: "event loop descriptor table full")
                return false
            }
        }
        registered = kept
        return true
    }

    /// Keeps the one timer at the connection's next deadline.
    private func syncTimer() {
        let deadline = connection.nextDeadline
        guard deadline != timerDeadline || !loop.isPending(timer) else { return }
        loop.cancel(timer)
        timer = .none
        timerDeadline = deadline
        guard let d = deadline else { return }
        let at = UInt64(max(d, 0)) &* 1_000_000
        do {
            timer = try loop.schedule(atNanoseconds: at) { self.timerFired() }
        } catch {
            // The deadline guards the login grace, a keepalive, a forward's connect or
            // the drain after exit: without it the connection is not served.
            close(reason: "event loop timer table full")
        }
    }

    /// Closes the connection with its fds unregistered first, then ends.
    private func close(reason: String) {
        for r in registered { loop.unregister(fd: r.fd) }
        registered.removeAll()
        connection.close(reason: reason)
        sync()
    }

    private func timerFired() {
        timerDeadline = nil
        timer = .none
        poke()
    }

    /// Killed children of ended connections are reaped on a short timer until none is left.
    static func scheduleReaping(_ server: SSHServer, loop: EventLoop) {
        server.reapOrphans()
        if server.orphanCount == 0 || server.reapTimerArmed { return }
        // Without a timer the children stay queued until the next connection ends (which
        // calls this again): they were killed already, only their zombies wait.
        server.reapTimerArmed = (try? loop.schedule(afterMilliseconds: UInt64(SSHLimits.reapPollMs)) {
            server.reapTimerArmed = false
            scheduleReaping(server, loop: loop)
        }) != nil
    }
}
