import CShims

/// For `ssh-serve --socketpair`: the agent's real topology, where a session slot's stream is
/// pumped into one end of a socketpair and libssh serves the other end. Here the "stream" is
/// the accepted TCP socket; bytes are copied both ways with half-closes passed on.
final class SocketBridge {
    var outer: Int32  // TCP socket of the client
    var inner: Int32  // our end of the socketpair
    var toInner: [UInt8] = []
    var toOuter: [UInt8] = []
    var outerEOF = false
    var innerEOF = false
    static let chunk = 64 * 1024

    init(outer: Int32, inner: Int32) {
        self.outer = outer
        self.inner = inner
    }

    var isDone: Bool { outer < 0 && inner < 0 }

    func interests(into pfds: inout [pollfd]) {
        if outer >= 0 {
            var ev: Int16 = 0
            if !outerEOF && toInner.isEmpty { ev |= Int16(POLLIN) }
            if !toOuter.isEmpty { ev |= Int16(POLLOUT) }
            pfds.append(pollfd(fd: outer, events: ev, revents: 0))
        }
        if inner >= 0 {
            var ev: Int16 = 0
            if !innerEOF && toOuter.isEmpty { ev |= Int16(POLLIN) }
            if !toInner.isEmpty { ev |= Int16(POLLOUT) }
            pfds.append(pollfd(fd: inner, events: ev, revents: 0))
        }
    }

    func service() {
        pump(from: outer, to: inner, pending: &toInner, eof: &outerEOF)
        pump(from: inner, to: outer, pending: &toOuter, eof: &innerEOF)
        // The SSH side closed: the client connection ends too.
        if innerEOF && toOuter.isEmpty {
            if outer >= 0 { close(outer) }
            if inner >= 0 { close(inner) }
            outer = -1
            inner = -1
        } else if outerEOF && toInner.isEmpty && inner >= 0 {
            _ = shutdown(inner, Int32(SHUT_WR))
        }
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
