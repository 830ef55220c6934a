/// A source of 4-byte masking keys for client frames (RFC 6455 section 5.3 asks for a fresh,
/// unpredictable key per frame). The caller owns the randomness: the runtime backs it with the
/// kernel CSPRNG, tests with a fixed sequence. A generic parameter, not an existential, so it
/// compiles in Embedded Swift.
public protocol WebSocketMaskSource {
    /// The next key; its big-endian bytes are the four key bytes in wire order.
    mutating func nextMaskKey() -> UInt32
}

/// The XOR masking of RFC 6455 section 5.3, applied in place. Masking is on the hot path of
/// every upstream byte, so it works eight bytes at a time on a 64-bit pattern of the key.
public enum WebSocketMask {
    /// XORs `bytes[range]` with `key` (big-endian byte order = wire order), the first byte
    /// of the range taking key byte `keyOffset % 4`.
    public static func apply(key: UInt32, to bytes: inout [UInt8], range: Range<Int>,
                             keyOffset: Int = 0) {
        bytes.withUnsafeMutableBytes { raw in
            let slice = UnsafeMutableRawBufferPointer(rebasing: raw[range])
            apply(key: key, to: slice, keyOffset: keyOffset)
        }
    }

    /// Word-at-a-time masking of raw memory.
    public static func apply(key: UInt32, to buffer: UnsafeMutableRawBufferPointer,
                             keyOffset: Int = 0) {
        let n = buffer.count
        if n == 0 { return }
        // Rotate the key so that byte 0 of the buffer meets key byte `keyOffset % 4`.
        let shift = UInt32((keyOffset & 3) * 8)
        let rotated = shift == 0 ? key : (key << shift) | (key >> (32 - shift))
        // Lay out the key bytes in memory order once; loading them as a word gives a pattern
        // that is correct on either endianness.
        var pattern: UInt64 = 0
        withUnsafeMutableBytes(of: &pattern) { p in
            for i in 0..<8 {
                p[i] = UInt8(truncatingIfNeeded: rotated >> UInt32(24 - (i & 3) * 8))
            }
        }
        var i = 0
        while i + 8 <= n {
            let w = buffer.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            buffer.storeBytes(of: w ^ pattern, toByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < n {
            buffer[i] ^= UInt8(truncatingIfNeeded: rotated >> UInt32(24 - (i & 3) * 8))
            i += 1
        }
    }

    /// Byte-at-a-time masking: the reference the fast path is tested and benchmarked against.
    public static func applyBytewise(key: UInt32, to buffer: UnsafeMutableRawBufferPointer) {
        var i = 0
        let n = buffer.count
        while i < n {
            buffer[i] ^= UInt8(truncatingIfNeeded: key >> UInt32(24 - (i & 3) * 8))
            i += 1
        }
    }
}
