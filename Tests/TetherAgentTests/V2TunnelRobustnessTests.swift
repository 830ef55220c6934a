import Testing
import TetherWire
@testable import TetherAgent

/// A hub that sends garbage or hostile sequences must cost the agent at most the tunnel, never
/// a crash or unbounded memory.
@Suite struct V2TunnelRobustnessTests {
    @Test func randomFrameSequencesKeepInvariants() {
        var rng = SeededRandom(seed: 2026)
        let protocols = ["/ssh/open/1.0.0", "/ssh/close/1.0.0", "/http/proxy/1.0.0", "/x/1"]
        var errors = 0
        var received = 0
        var opened = 0
        for _ in 0..<200 {
            var t = V2Tunnel(sessionSlots: 3)
            var open: [UInt32] = []
            var nextID: UInt32 = 1
            for _ in 0..<200 {
                var bytes: [UInt8] = []
                let id: UInt32 = open.isEmpty || Bool.random(using: &rng)
                    ? 2 * UInt32.random(in: 0...20, using: &rng) + 1 : open.randomElement(using: &rng)!
                // Mostly well-formed traffic in random order, now and then raw garbage.
                let kinds: [Int] = [0, 0, 1, 1, 1, 2, 2, 2, 3, 4, 6, 6, 0, 1, 2, 3, 4, 6, 1, 2]
                let garbage = Int.random(in: 0..<100, using: &rng) == 0
                switch garbage ? 5 : kinds.randomElement(using: &rng)! {
                case 0:
                    YamuxHeader(type: .windowUpdate, flags: .syn, streamID: nextID).encode(into: &bytes)
                    open.append(nextID)
                    nextID += 2
                case 1:
                    let p = Multistream.encode(Multistream.protocolID)
                        + Multistream.encode(protocols.randomElement(using: &rng)!)
                    YamuxHeader(type: .data, streamID: id, length: UInt32(p.count)).encode(into: &bytes)
                    bytes += p
                case 2:
                    let h = Array("{\"id\":\"s\(Int.random(in: 0..<4, using: &rng))\",\"host\":\"h\",\"port\":\"22\"}\n".utf8)
                    YamuxHeader(type: .data, streamID: id, length: UInt32(h.count)).encode(into: &bytes)
                    bytes += h
                case 3:
                    let flags: YamuxFlags = [[.fin], [.rst], [.ack], [], [], [], []].randomElement(using: &rng)!
                    YamuxHeader(type: .windowUpdate, flags: flags, streamID: id,
                                length: UInt32.random(in: 0...1000, using: &rng)).encode(into: &bytes)
                case 4:
                    YamuxHeader(type: .ping, flags: .syn, length: id).encode(into: &bytes)
                case 5:
                    bytes = (0..<Int.random(in: 1...30, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                default:
                    let n = Int.random(in: 0...100, using: &rng)
                    YamuxHeader(type: .data, streamID: id, length: UInt32(n)).encode(into: &bytes)
                    bytes += [UInt8](repeating: 0x41, count: n)
                }
                do {
                    try t.receive(bytes, now: .zero)
                    received += 1
                } catch {
                    errors += 1
                    break
                }
                while let a = t.nextAction() {
                    switch a {
                    case .data(let slot, let b): t.consumed(slot, b.count)
                    case .closeSSH(let slot): t.localClosed(slot, now: .zero)
                    case .openSSH: opened += 1
                    case .proxy(let slot, _, _, _):
                        if Bool.random(using: &rng) { t.proxyConnected(slot) } else { t.proxyFailed(slot, message: "no", now: .zero) }
                    default: break
                    }
                }
                _ = t.takeOutput()
                #expect(t.slots.inUse <= 3)
                #expect(t.negotiatingCount <= V2Tunnel.maxNegotiatingStreams)
                #expect(t.openStreamCount <= 3 + V2Tunnel.maxNegotiatingStreams)
            }
        }
        // Garbage does end tunnels (and that is the right answer).
        #expect(errors > 0)
        // ...but enough survives to exercise sessions and the slot limit.
        #expect(received > 5000)
        #expect(opened > 20)
    }
}
