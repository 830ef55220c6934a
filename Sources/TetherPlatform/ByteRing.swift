/// A fixed-capacity FIFO of bytes (ring buffer), allocated once: the bounded output queue of a
/// connection. Appends are all-or-nothing, so a message is never half-queued.
public final class ByteRing {
    public let capacity: Int
    private let storage: UnsafeMutableRawBufferPointer
    private var head = 0
    public private(set) var count = 0

    public init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(byteCount: max(capacity, 1), alignment: 1)
    }

    deinit { storage.deallocate() }

    public var space: Int { capacity - count }
    public var isEmpty: Bool { count == 0 }

    /// Queues all of `bytes`, or nothing when they do not fit.
    @discardableResult
    public func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if bytes.count > space { return false }
        var tail = (head + count) % max(capacity, 1)
        var copied = 0
        while copied < bytes.count {
            let n = min(bytes.count - copied, capacity - tail)
            UnsafeMutableRawBufferPointer(rebasing: storage[tail..<(tail + n)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[copied..<(copied + n)]))
            copied += n
            tail = (tail + n) % capacity
        }
        count += bytes.count
        return true
    }

    @discardableResult
    public func append(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The contiguous bytes at the head (may be fewer than `count` when they wrap).
    public func headChunk(max limit: Int = Int.max) -> UnsafeRawBufferPointer {
        let n = min(count, capacity - head, limit)
        return UnsafeRawBufferPointer(rebasing: storage[head..<(head + n)])
    }

    /// Drops `n` bytes from the head.
    public func consume(_ n: Int) {
        precondition(n <= count)
        head = (head + n) % max(capacity, 1)
        count -= n
        if count == 0 { head = 0 }
    }

    public func removeAll() {
        head = 0
        count = 0
    }
}
