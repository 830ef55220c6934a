/// Two sockets bridged both ways by two `FdPump`s, for `ssh-serve --socketpair`: the agent's
/// own topology, where a slot's stream is pumped into one end of a socketpair and libssh serves
/// the other. `outer` (the client's TCP socket) plays the stream: its EOF shuts down the
/// socketpair's write side once what it sent is written, and it goes on receiving. `inner`
/// (the socketpair end) is pumped exactly as a slot's local end: when it ends, what it sent is
/// written to the client and both are closed.
public final class SocketBridge: FdPumpOwner {
    /// Bytes queued toward one side before the other side's reading stops.
    public static let queueLimit = 64 * 1024
    private static let outerTag = 0
    private static let innerTag = 1

    private var outer: FdPump?
    private var inner: FdPump?
    private var innerEnded = false
    /// Called once when both fds are closed (the owner may drop the bridge inside it).
    public var onDone: ((SocketBridge) -> Void)?

    /// Registers both fds, or neither (nil, the fds left open, when the loop's table is full).
    public init?(outer outerFd: Int32, inner innerFd: Int32, loop: EventLoop) {
        guard let o = FdPump(loop: loop, fd: outerFd, tag: SocketBridge.outerTag, owner: self,
                             halfClose: true)
        else { return nil }
        guard let i = FdPump(loop: loop, fd: innerFd, tag: SocketBridge.innerTag, owner: self) else {
            loop.unregister(fd: outerFd)
            return nil
        }
        outer = o
        inner = i
    }

    private func other(_ tag: Int) -> FdPump? { tag == SocketBridge.outerTag ? inner : outer }

    public func pumpSendRoom(_ tag: Int) -> Int {
        guard !innerEnded, let to = other(tag) else { return 0 }
        return max(0, SocketBridge.queueLimit - to.pendingOut)
    }

    public func pump(_ tag: Int, produced bytes: UnsafeRawBufferPointer) {
        other(tag)?.deliver(bytes)
    }

    public func pump(_ tag: Int, wrote count: Int) {
        if tag == SocketBridge.outerTag, innerEnded, outer?.pendingOut == 0 { return finish() }
        // The side that feeds this one has room again.
        other(tag)?.resume()
    }

    public func pumpReadFinished(_ tag: Int) {
        // Only `outer` half-closes: the client sends no more.
        inner?.remoteClosed()
    }

    public func pumpEnded(_ tag: Int, reason: PumpEnd) {
        if tag == SocketBridge.innerTag {
            innerEnded = true
            if outer?.pendingOut ?? 0 > 0 { return }  // the rest goes out first (`wrote`)
        }
        finish()
    }

    private func finish() {
        outer?.terminate()
        inner?.terminate()
        let done = onDone
        onDone = nil
        done?(self)
    }
}
