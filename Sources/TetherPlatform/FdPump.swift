import CShims

/// Why an `FdPump` ended.
public enum PumpEnd: Equatable {
    /// The fd read EOF: the local program or peer finished.
    case finished
    /// A read or a write failed (errno: EPIPE, ECONNRESET, ...).
    case failed(Int32)

    /// For log lines ("slot 3 closed: " + text).
    public var text: String {
        switch self {
        case .finished: return "local end finished"
        case .failed(let e): return Errno.text(e)
        }
    }
}

/// What an `FdPump` tells the side that feeds it and takes its bytes. `tag` is the pump's own
/// (a session slot, a bridge's side), so that one owner can run many pumps.
public protocol FdPumpOwner: AnyObject {
    /// How many bytes the owner can take from this pump now (0 = stop reading until `resume`).
    func pumpSendRoom(_ tag: Int) -> Int
    /// Bytes read from the fd (never more than the room).
    func pump(_ tag: Int, produced bytes: UnsafeRawBufferPointer)
    /// `count` delivered bytes reached the fd (credit for the sender).
    func pump(_ tag: Int, wrote count: Int)
    /// A half-closing pump read EOF; it goes on writing. Never called for the others.
    func pumpReadFinished(_ tag: Int)
    /// The pump ended and closed its fd; called once, never after `terminate`.
    func pumpEnded(_ tag: Int, reason: PumpEnd)
}

extension FdPumpOwner {
    public func pumpReadFinished(_ tag: Int) {}
}

/// One non-blocking socket on the event loop, bytes moved both ways with backpressure: reads go
/// to the owner as far as its room allows (none while it has none), delivered bytes are queued
/// until the fd takes them, and `remoteClosed` shuts the write side down once they are all
/// written. Read EOF ends the pump (the fd closes), or, for a half-closing pump, only stops its
/// reading. The read buffer is one for all pumps: the loop runs one handler at a time.
public final class FdPump: IOHandler {
    /// Most bytes one read takes.
    public static let readChunk = 16 * 1024

    public let tag: Int
    public private(set) var fd: Int32
    private let loop: EventLoop
    private unowned(unsafe) let owner: FdPumpOwner
    private let halfClose: Bool
    private var outgoing = ByteQueue()
    private var readPaused = false
    private var readFinished = false
    private var remoteFinished = false
    private var ended = false

    /// Registers `fd` with the loop; nil (the fd left open) when the loop's table is full.
    public init?(loop: EventLoop, fd: Int32, tag: Int, owner: FdPumpOwner, halfClose: Bool = false) {
        self.loop = loop
        self.fd = fd
        self.tag = tag
        self.owner = owner
        self.halfClose = halfClose
        do {
            try loop.register(fd: fd, interest: .readable, handler: self)
        } catch {
            return nil
        }
    }

    /// Bytes for the fd.
    public func deliver(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { deliver($0) }
    }

    public func deliver(_ bytes: UnsafeRawBufferPointer) {
        guard !ended else { return }
        outgoing.append(bytes)
        flush()
    }

    /// Nothing more will be delivered: shut down the fd's write side once the queue drains.
    public func remoteClosed() {
        remoteFinished = true
        if outgoing.isEmpty, fd >= 0 { _ = shutdown(fd, Int32(SHUT_WR)) }
    }

    /// The owner has room again: read on.
    public func resume() {
        guard readPaused, !ended else { return }
        readPaused = false
        updateInterest()
        readAvailable()
    }

    /// Closes the fd without telling the owner (it knows).
    public func terminate() {
        guard !ended else { return }
        ended = true
        release()
    }

    /// Delivered bytes not yet written to the fd.
    public var pendingOut: Int { outgoing.count }

    public func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        if events.contains(.writable) { flush() }
        if !ended && (events.contains(.readable) || events.contains(.hangup)) { readAvailable() }
        if !ended && readFinished && events.contains(.hangup) {
            // EOF read, and now a hang-up: the peer is gone both ways (reset, or closed), so no
            // write can succeed; without this the hang-up would wake the loop again and again.
            let e = tether_socket_error(fd)
            end(.failed(e != 0 ? e : EPIPE))
        }
    }

    private func release() {
        if fd >= 0 {
            loop.unregister(fd: fd)
            Socket.close(fd)
            fd = -1
        }
        outgoing.removeAll()
    }

    private func end(_ reason: PumpEnd) {
        guard !ended else { return }
        ended = true
        release()
        owner.pumpEnded(tag, reason: reason)
    }

    private func updateInterest() {
        guard fd >= 0 else { return }
        var interest: IOEvents = readPaused || readFinished ? [] : .readable
        if !outgoing.isEmpty { interest.insert(.writable) }
        // Fails only for an fd that is not registered; this one is from start to release.
        try? loop.setInterest(fd: fd, interest)
    }

    private func flush() {
        let before = outgoing.count
        let outcome = outgoing.write(to: fd)
        if case .failed(let e) = outcome { return end(.failed(e)) }
        if outcome == .drained, remoteFinished { _ = shutdown(fd, Int32(SHUT_WR)) }
        updateInterest()
        let wrote = before - outgoing.count
        if wrote > 0 { owner.pump(tag, wrote: wrote) }
    }

    private func readAvailable() {
        let buffer = FdPump.scratch
        while !ended && !readFinished {
            let room = owner.pumpSendRoom(tag)
            if room <= 0 {
                readPaused = true
                updateInterest()
                return
            }
            let want = min(room, buffer.count)
            switch Socket.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want])) {
            case .bytes(let n):
                owner.pump(tag, produced: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            case .wouldBlock:
                return
            case .closed:
                guard halfClose else { return end(.finished) }
                readFinished = true
                updateInterest()
                owner.pumpReadFinished(tag)
            case .failed(let e):
                return end(.failed(e))
            }
        }
    }

    nonisolated(unsafe) private static let scratch = UnsafeMutableRawBufferPointer.allocate(
        byteCount: FdPump.readChunk, alignment: 8)
}
