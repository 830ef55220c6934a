/// Incremental UTF-8 validator (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
///
/// WebSocket text messages arrive in fragments and in partial reads; RFC 6455 section 8.1 lets
/// an endpoint fail as soon as the bytes seen so far cannot start valid UTF-8, which Autobahn
/// checks ("fail fast"). So the validator keeps the state of an unfinished sequence between
/// calls and rejects a byte the moment it cannot continue any valid sequence.
public struct UTF8Validator: Equatable {
    /// Continuation bytes still expected for the current sequence.
    private var needed: UInt8 = 0
    /// Allowed range of the next continuation byte (narrowed after E0, ED, F0, F4).
    private var low: UInt8 = 0x80
    private var high: UInt8 = 0xBF

    public init() {}

    /// True when no multi-byte sequence is open, i.e. the input so far is complete UTF-8.
    public var isComplete: Bool { needed == 0 }

    /// Validates the next bytes; false as soon as one byte makes the input invalid. After a
    /// false the validator must be reset before further use.
    public mutating func feed<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        if let ok = bytes.withContiguousStorageIfAvailable({ feed(buffer: UnsafeRawBufferPointer($0)) }) {
            return ok
        }
        for b in bytes where !step(b) { return false }
        return true
    }

    /// Validates bytes in raw memory (the fast path used by the frame decoder).
    public mutating func feed(buffer: UnsafeRawBufferPointer) -> Bool {
        let n = buffer.count
        var i = 0
        while i < n {
            // ASCII fast path: eight bytes at a time while no sequence is open.
            if needed == 0 {
                while i + 8 <= n {
                    let word = buffer.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { break }
                    i += 8
                }
                if i >= n { break }
            }
            if !step(buffer[i]) { return false }
            i += 1
        }
        return true
    }

    /// Forgets any open sequence (start of a new message).
    public mutating func reset() {
        self = UTF8Validator()
    }

    @inline(__always)
    private mutating func step(_ b: UInt8) -> Bool {
        if needed > 0 {
            guard b >= low && b <= high else { return false }
            needed -= 1
            low = 0x80
            high = 0xBF
            return true
        }
        switch b {
        case 0x00...0x7F: return true
        case 0xC2...0xDF: needed = 1
        case 0xE0: needed = 2; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: needed = 2
        case 0xED: needed = 2; high = 0x9F
        case 0xF0: needed = 3; low = 0x90
        case 0xF1...0xF3: needed = 3
        case 0xF4: needed = 3; high = 0x8F
        default: return false  // continuation without a lead, C0/C1 overlongs, F5..FF
        }
        return true
    }
}
