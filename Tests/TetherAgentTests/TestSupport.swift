import TetherAgent

/// Deterministic generator for tests (SplitMix64).
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Makes `random(in: a...b)` return `b`.
struct HighestRandom: RandomNumberGenerator {
    mutating func next() -> UInt64 { .max }
}

/// Makes `random(in: a...b)` return `a` (1, not 0: an all-zero source would make the
/// stdlib's rejection sampling loop forever).
struct LowestRandom: RandomNumberGenerator {
    mutating func next() -> UInt64 { 1 }
}

extension Instant {
    static func s(_ seconds: Int64) -> Instant { Instant(milliseconds: seconds * 1000) }
}

/// An HTTP/1.1 response as a server sends it, with Content-Length (the API exchange tests).
func response(_ status: String, _ headers: [String] = [], body: String = "") -> [UInt8] {
    var s = "HTTP/1.1 \(status)\r\n"
    for h in headers { s += h + "\r\n" }
    s += "Content-Length: \(body.utf8.count)\r\n\r\n" + body
    return Array(s.utf8)
}
