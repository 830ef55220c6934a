import Testing
@testable import TetherWire

@Suite struct UTF8ValidatorTests {
    func valid(_ bytes: [UInt8]) -> Bool {
        var v = UTF8Validator()
        return v.feed(bytes) && v.isComplete
    }

    @Test func acceptsValidText() {
        #expect(valid(Array("hello$world".utf8)))
        #expect(valid([0x68, 0xC2, 0xA2, 0xE2, 0x82, 0xAC, 0xF0, 0xA4, 0xAD, 0xA2]))
        #expect(valid([0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5]))
        #expect(valid([]))
        // Boundaries: first/last of each length, U+D7FF, U+E000, U+FFFD, U+10FFFF.
        for seq: [UInt8] in [[0x00], [0xC2, 0x80], [0xE0, 0xA0, 0x80], [0xF0, 0x90, 0x80, 0x80],
                             [0x7F], [0xDF, 0xBF], [0xEF, 0xBF, 0xBF], [0xF4, 0x8F, 0xBF, 0xBF],
                             [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBD]] {
            #expect(valid(seq))
        }
    }

    @Test func rejectsInvalid() {
        let bad: [[UInt8]] = [
            [0x80], [0xBF], [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0xAF], [0xE0, 0x9F, 0xBF],
            [0xF0, 0x80, 0x80, 0xAF], [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80],
            [0xF5, 0x80, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xFE], [0xFF],
            [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80],
            [0xC2], [0xE0, 0xA0], [0xF0, 0x90, 0x80], [0xC2, 0x20],
        ]
        for b in bad { #expect(!valid(b), "\(b)") }
    }

    @Test func failsFastOnTheFirstImpossibleByte() {
        var v = UTF8Validator()
        let a = v.feed(Array("edited".utf8))
        let b = v.feed([0xED])           // could still become U+D000..U+D7FF
        #expect(a && b)
        #expect(!v.isComplete)
        let c = v.feed([0xA0])           // ED A0 is a surrogate: no valid continuation
        #expect(!c)
        var w = UTF8Validator()
        let d = w.feed([0xF5])
        #expect(!d)
    }

    @Test func splitAnywhereGivesSameAnswer() {
        let samples: [[UInt8]] = [
            Array("µ@ßöäüàá κόσμε 𤭢 €".utf8),
            [0x41, 0xED, 0xA0, 0x80, 0x41],
            [0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0xF0, 0x9F, 0x98, 0x80],
        ]
        for s in samples {
            let expected = valid(s)
            for cut in 0...s.count {
                var v = UTF8Validator()
                let ok = v.feed(s[0..<cut]) && v.feed(s[cut...]) && v.isComplete
                #expect(ok == expected)
            }
        }
    }

    @Test func agreesWithTheStandardLibraryOnPseudoRandomInput() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func rnd() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
        let alphabet: [UInt8] = [0x41, 0x7F, 0x80, 0xBF, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4,
                                 0xF5, 0x9F, 0xA0, 0x8F, 0x90, 0xC0, 0xFF]
        for _ in 0..<20_000 {
            let n = Int(rnd() % 12)
            let bytes = (0..<n).map { _ in alphabet[Int(rnd() % UInt64(alphabet.count))] }
            let stdlib = String(validating: bytes, as: UTF8.self) != nil
            #expect(valid(bytes) == stdlib, "\(bytes)")
        }
    }

    @Test func everyScalarIsValid() {
        var v = UTF8Validator()
        var scalar: UInt32 = 0
        while scalar <= 0x10FFFF {
            if let u = Unicode.Scalar(scalar) {
                let ok = v.feed(Array(String(Character(u)).utf8))
                #expect(ok)
            }
            scalar += scalar < 0x1000 ? 1 : 37
        }
        #expect(v.isComplete)
    }
}
