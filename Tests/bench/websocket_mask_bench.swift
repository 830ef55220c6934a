// Masking throughput: word-at-a-time (WebSocketMask.apply) against byte-at-a-time
// (WebSocketMask.applyBytewise), and the whole client frame encoder, in one run.
// Built with -O by Tests/bench/websocket_mask.sh together with the TetherWire sources.

struct BenchMasks: WebSocketMaskSource {
    var state: UInt32 = 0x9E37_79B9
    mutating func nextMaskKey() -> UInt32 {
        state ^= state << 13; state ^= state >> 17; state ^= state << 5
        return state
    }
}

func benchSeconds(_ body: () -> Void) -> Double {
    let clock = ContinuousClock()
    let d = clock.measure(body)
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

@main
struct WebSocketMaskBench {
    static func main() {
        let sizes = [64, 1024, 16384, 65536]
        let totalBytes = 1 << 30  // per measurement
        var sink: UInt64 = 0
        print("size      word MB/s   byte MB/s   speed-up   encode MB/s")
        for size in sizes {
            var buf = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let rounds = totalBytes / size
            var keys = BenchMasks()
            // Warm up once, then measure each variant over the same number of bytes.
            buf.withUnsafeMutableBytes { WebSocketMask.apply(key: 1, to: $0) }
            let tWord = benchSeconds {
                buf.withUnsafeMutableBytes { raw in
                    for _ in 0..<rounds { WebSocketMask.apply(key: keys.nextMaskKey(), to: raw) }
                }
            }
            sink &+= UInt64(buf[size / 2])
            let tByte = benchSeconds {
                buf.withUnsafeMutableBytes { raw in
                    for _ in 0..<rounds { WebSocketMask.applyBytewise(key: keys.nextMaskKey(), to: raw) }
                }
            }
            sink &+= UInt64(buf[size / 3])
            // The full encoder: header, fresh key, copy and mask into a reused output buffer.
            var out: [UInt8] = []
            out.reserveCapacity(size + 14)
            let encodeRounds = rounds / 4
            let tEncode = benchSeconds {
                for _ in 0..<encodeRounds {
                    out.removeAll(keepingCapacity: true)
                    WebSocketFrameEncoder.appendFrame(opcode: .binary, payload: buf,
                                                      maskSource: &keys, to: &out)
                    sink &+= UInt64(out[out.count - 1])
                }
            }
            let mb = Double(totalBytes) / 1e6
            let word = mb / tWord
            let byte = mb / tByte
            let enc = (mb / 4) / tEncode
            func f(_ x: Double) -> String {
                let s = String(Int(x.rounded()))
                return String(repeating: " ", count: max(0, 10 - s.count)) + s
            }
            let ratio = Int((word / byte * 10).rounded())
            print("\(f(Double(size)))  \(f(word))  \(f(byte))     \(ratio / 10).\(ratio % 10)x  \(f(enc))")
        }
        print("(checksum \(sink))")
    }
}
