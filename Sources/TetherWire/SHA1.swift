/// SHA-1 (FIPS 180-4), only for the WebSocket handshake's `Sec-WebSocket-Accept` check (RFC 6455
/// section 4.2.2). SHA-1 is broken for signatures; here it is a fixed checksum the RFC requires,
/// so a small, plain implementation is enough. Sans-I/O: bytes in, 20-byte digest out.
public struct SHA1 {
    /// Size of one compression block in bytes.
    static let blockSize = 64
    /// Size of the digest in bytes.
    public static let digestSize = 20

    private var h0: UInt32 = 0x6745_2301
    private var h1: UInt32 = 0xEFCD_AB89
    private var h2: UInt32 = 0x98BA_DCFE
    private var h3: UInt32 = 0x1032_5476
    private var h4: UInt32 = 0xC3D2_E1F0
    private var pending: [UInt8] = []
    private var totalBytes: UInt64 = 0

    public init() {
        pending.reserveCapacity(SHA1.blockSize)
    }

    /// Digest of `bytes` in one call.
    public static func hash<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        var s = SHA1()
        s.update(bytes)
        return s.finish()
    }

    /// Absorbs more input.
    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        totalBytes &+= UInt64(bytes.count)
        for b in bytes {
            pending.append(b)
            if pending.count == SHA1.blockSize {
                compress(pending)
                pending.removeAll(keepingCapacity: true)
            }
        }
    }

    /// Pads, finishes and returns the 20-byte digest. The value is spent afterwards.
    public mutating func finish() -> [UInt8] {
        let bitLength = totalBytes &* 8
        pending.append(0x80)
        if pending.count > SHA1.blockSize - 8 {
            while pending.count < SHA1.blockSize { pending.append(0) }
            compress(pending)
            pending.removeAll(keepingCapacity: true)
        }
        while pending.count < SHA1.blockSize - 8 { pending.append(0) }
        var shift: UInt64 = 56
        for _ in 0..<8 {
            pending.append(UInt8(truncatingIfNeeded: bitLength >> shift))
            shift &-= 8
        }
        compress(pending)
        pending.removeAll(keepingCapacity: true)
        var out: [UInt8] = []
        out.reserveCapacity(SHA1.digestSize)
        for word in [h0, h1, h2, h3, h4] {
            out.append(UInt8(truncatingIfNeeded: word >> 24))
            out.append(UInt8(truncatingIfNeeded: word >> 16))
            out.append(UInt8(truncatingIfNeeded: word >> 8))
            out.append(UInt8(truncatingIfNeeded: word))
        }
        return out
    }

    private static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 {
        (x << n) | (x >> (32 - n))
    }

    private mutating func compress(_ block: [UInt8]) {
        // The 80-word message schedule is kept as a 16-word ring (FIPS 180-4 section 6.1.3
        // allows it): each later word only depends on the 16 before it.
        var w = [UInt32](repeating: 0, count: 16)
        for i in 0..<16 {
            w[i] = UInt32(block[4 * i]) << 24 | UInt32(block[4 * i + 1]) << 16
                | UInt32(block[4 * i + 2]) << 8 | UInt32(block[4 * i + 3])
        }
        var a = h0, b = h1, c = h2, d = h3, e = h4
        for t in 0..<80 {
            let wt: UInt32
            if t < 16 {
                wt = w[t]
            } else {
                let x = w[(t - 3) & 15] ^ w[(t - 8) & 15] ^ w[(t - 14) & 15] ^ w[t & 15]
                wt = SHA1.rotl(x, 1)
                w[t & 15] = wt
            }
            let f: UInt32
            let k: UInt32
            switch t {
            case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
            case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
            case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
            default: f = b ^ c ^ d; k = 0xCA62_C1D6
            }
            let temp = SHA1.rotl(a, 5) &+ f &+ e &+ k &+ wt
            e = d
            d = c
            c = SHA1.rotl(b, 30)
            b = a
            a = temp
        }
        h0 &+= a
        h1 &+= b
        h2 &+= c
        h3 &+= d
        h4 &+= e
    }
}
