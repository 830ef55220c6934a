import CShims

/// Bytes waiting to go into a non-blocking fd (a socket, a pipe, a pty): appended at the back,
/// written from the front. The written prefix is dropped when the queue drains, or once it
/// passes `compactAbove`, so a queue that never quite empties does not keep growing.
public struct ByteQueue {
    /// Written bytes kept in front before they are dropped; also the most capacity an empty
    /// queue keeps for its next bytes.
    public static let compactAbove = 64 * 1024

    /// What `write(to:)` came to.
    public enum Outcome: Equatable {
        /// Everything queued is written.
        case drained
        /// The fd takes no more now (EAGAIN, or it took only part): wait for writability.
        case blocked
        /// write(2) failed (errno; EPIPE when the reader is gone). The queue is left as it was.
        case failed(Int32)
    }

    private var bytes: [UInt8] = []
    private var start = 0

    public init() {}

    /// Bytes not yet written.
    public var count: Int { bytes.count - start }
    public var isEmpty: Bool { start >= bytes.count }
    /// Bytes held, the written prefix included (what compaction bounds).
    var held: Int { bytes.count }

    public mutating func append(_ more: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: more)
    }

    /// Forgets what is queued and gives its memory back.
    public mutating func removeAll() {
        bytes = []
        start = 0
    }

    /// Writes from the front until the queue drains or the fd would block. write(2), not
    /// send(2), so that pipes work too: a closed reader gives EPIPE because the process
    /// ignores SIGPIPE (`EventLoop.watchSignals`, `SSHServer`).
    public mutating func write(to fd: Int32) -> Outcome {
        var outcome = Outcome.drained
        while start < bytes.count {
            let left = bytes.count - start
            let n = bytes.withUnsafeBytes { CShims.write(fd, $0.baseAddress! + start, left) }
            if n < 0 {
                let e = tether_errno()
                if e == EINTR { continue }
                outcome = e == EAGAIN || e == EWOULDBLOCK ? .blocked : .failed(e)
                break
            }
            start += n
            // A short write means the fd's buffer is full: the next try would only say EAGAIN.
            if n < left {
                outcome = .blocked
                break
            }
        }
        compact()
        return outcome
    }

    private mutating func compact() {
        if start >= bytes.count {
            bytes.removeAll(keepingCapacity: bytes.capacity <= ByteQueue.compactAbove)
            start = 0
        } else if start > ByteQueue.compactAbove {
            bytes.removeFirst(start)
            start = 0
        }
    }
}
