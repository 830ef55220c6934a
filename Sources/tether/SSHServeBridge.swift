import CShims
import TetherPlatform

/// For `ssh-serve --socketpair`: the agent's real topology, where a session slot's stream is
/// pumped into one end of a socketpair and libssh serves the other end. Here the "stream" is
/// the accepted TCP socket; bytes are copied both ways on the event loop, half-closes passed on.
final class SocketBridge: IOHandler {
    private var outer: Int32  // TCP socket of the client
    private var inner: Int32  // our end of the socketpair
    private var toInner: [UInt8] = []
    private var toOuter: [UInt8] = []
    private var outerEOF = false
    private var innerEOF = false
    private let loop: EventLoop
    static let chunk = 64 * 1024
    /// Called once when both fds are closed (the owner may drop the bridge inside it).
    var onDone: ((SocketBridge) -> Void)?

    /// Registers both fds, or neither (nil when the loop's table is full).
    init?(outer: Int32, inner: Int32, loop: EventLoop) {
        self.outer = outer
        self.inner = inner
        self.loop = loop
        do {
            try loop.register(fd: outer, interest: .readable, handler: self)
        } catch {
            return nil
        }
        do {
            try loop.register(fd: inner, interest: .readable, handler: self)
        } catch {
            loop.unregister(fd: outer)
            return nil
        }
    }

    func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        pump(from: outer, to: inner, pending: &toInner, eof: &outerEOF)
        pump(from: inner, to: outer, pending: &toOuter, eof: &innerEOF)
        if innerEOF && toOuter.isEmpty {
            // The SSH side closed: the client connection ends too.
            finish()
            return
        }
        if outerEOF && toInner.isEmpty && inner >= 0 { _ = shutdown(inner, Int32(SHUT_WR)) }
        updateInterest()
    }

    private func updateInterest() {
        var o: IOEvents = []
        if !outerEOF && toInner.isEmpty { o.insert(.readable) }
        if !toOuter.isEmpty { o.insert(.writable) }
        var n: IOEvents = []
        if !innerEOF && toOuter.isEmpty { n.insert(.readable) }
        if !toInner.isEmpty { n.insert(.writable) }
        // Both fds are registered for the bridge's whole life: setting interest cannot fail.
        try? loop.setInterest(fd: outer, o)
        try? loop.setInterest(fd: inner, n)
    }

    private func finish() {
        loop.unregister(fd: outer)
        loop.unregister(fd: inner)
        close(outer)
        close(inner)
        outer = -1
        inner = -1
        let done = onDone
        onDone = nil
        done?(self)
    }

    private func pump(from: Int32, to: Int32, pending: inout [UInt8], eof: inout Bool) {
        if from < 0 || to < 0 { return }
        if pending.isEmpty && !eof {
            var buf = [UInt8](repeating: 0, count: SocketBridge.chunk)
            let n = buf.withUnsafeMutableBytes { read(from, $0.baseAddress, SocketBridge.chunk) }
            if n > 0 {
                pending = Array(buf[0..<n])
            } else if n == 0 || (tether_errno() != EAGAIN && tether_errno() != EINTR) {
                eof = true
            }
        }
        if !pending.isEmpty {
            let n = pending.withUnsafeBytes { write(to, $0.baseAddress, $0.count) }
            if n > 0 {
                pending.removeFirst(n)
            } else if n < 0 && tether_errno() != EAGAIN && tether_errno() != EINTR {
                pending.removeAll()
                eof = true
            }
        }
    }
}
