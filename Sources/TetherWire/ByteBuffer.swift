/// A growable FIFO of bytes for incremental parsers: bytes are appended at the end and consumed
/// from the front. Consumed space is reclaimed lazily (when the dead prefix is at least half the
/// storage) so that feeding and consuming small pieces stays amortised O(n).
public struct ByteBuffer {
    @usableFromInline var storage: [UInt8] = []
    @usableFromInline var readIndex: Int = 0

    public init() {}

    public init<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        storage = Array(bytes)
    }

    /// Number of bytes not yet consumed.
    @inlinable public var count: Int { storage.count - readIndex }

    @inlinable public var isEmpty: Bool { readIndex == storage.count }

    /// The unconsumed bytes.
    @inlinable public var readable: ArraySlice<UInt8> { storage[readIndex...] }

    /// The unconsumed byte at `offset` from the front; the caller checks `offset < count`.
    @inlinable public subscript(offset: Int) -> UInt8 { storage[readIndex + offset] }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        compactIfWorthwhile()
        storage.append(contentsOf: bytes)
    }

    public mutating func append(_ byte: UInt8) {
        storage.append(byte)
    }

    /// Drops `n` bytes from the front (at most `count`).
    public mutating func consume(_ n: Int) {
        readIndex += Swift.min(n, count)
        if readIndex == storage.count {
            storage.removeAll(keepingCapacity: true)
            readIndex = 0
        }
    }

    /// Removes and returns the first `n` bytes (at most `count`).
    public mutating func read(_ n: Int) -> [UInt8] {
        let m = Swift.min(n, count)
        let out = Array(storage[readIndex..<readIndex + m])
        consume(m)
        return out
    }

    /// Removes and returns every unconsumed byte.
    public mutating func readAll() -> [UInt8] {
        read(count)
    }

    /// Offset (from the front) of the first `byte` within the first `limit` unconsumed bytes.
    public func firstIndex(of byte: UInt8, limit: Int = Int.max) -> Int? {
        let end = readIndex + Swift.min(limit, count)
        var i = readIndex
        while i < end {
            if storage[i] == byte { return i - readIndex }
            i += 1
        }
        return nil
    }

    public mutating func removeAll() {
        storage.removeAll(keepingCapacity: false)
        readIndex = 0
    }

    /// For buffers that keep their own array and read offset (hot paths that index the array):
    /// empties `bytes` once all of it is consumed (`start` at its end), and drops the consumed
    /// prefix once it is at least `threshold` bytes and at least half the array, so each byte
    /// is moved O(1) times on average while a small prefix is never copied.
    public static func compact(_ bytes: inout [UInt8], consumed start: inout Int, threshold: Int) {
        if start == bytes.count {
            bytes.removeAll(keepingCapacity: true)
            start = 0
        } else if start >= threshold && start * 2 >= bytes.count {
            bytes.removeSubrange(0..<start)
            start = 0
        }
    }

    mutating func compactIfWorthwhile() {
        // Moving the live tail costs as much as the bytes it keeps; do it only when the dead
        // prefix is at least as large, so each byte is moved O(1) times on average.
        if readIndex > 0 && readIndex >= storage.count - readIndex {
            storage.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }
}
