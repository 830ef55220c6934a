import Testing
@testable import TetherWire

@Suite struct SHA1Tests {
    // FIPS 180-2 appendix A and the NIST example vectors.
    @Test(arguments: [
        ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "a49b2446a02c645bf419f995b67091253a04a259"),
        ("The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"),
    ])
    func vectors(input: String, digest: String) {
        #expect(Hex.encode(SHA1.hash(Array(input.utf8))) == digest)
    }

    @Test func millionAs() {
        var s = SHA1()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { s.update(chunk) }
        #expect(Hex.encode(s.finish()) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test func incrementalEqualsOneShot() {
        // Lengths around the 55/56/64-byte padding boundaries, split at every point.
        for n in [55, 56, 63, 64, 65, 119, 120, 128] {
            let data = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
            let whole = SHA1.hash(data)
            for cut in [0, 1, n / 2, n] {
                var s = SHA1()
                s.update(data[0..<cut])
                s.update(data[cut...])
                #expect(s.finish() == whole)
            }
        }
    }
}
