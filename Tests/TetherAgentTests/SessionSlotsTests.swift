import Testing
@testable import TetherAgent

@Suite struct SessionSlotsTests {
    let uid = String(repeating: "ab", count: 32)

    @Test func acquireUntilFullThenReuse() {
        var s = SessionSlots(capacity: 3)
        #expect(s.acquire(sessionID: "a", transport: .stream(1), purpose: .ssh) == .acquired(slot: 0))
        #expect(s.acquire(sessionID: "b", transport: .stream(3), purpose: .ssh) == .acquired(slot: 1))
        #expect(s.acquire(sessionID: "c", transport: .dialBack(7), purpose: .proxy) == .acquired(slot: 2))
        #expect(s.isFull)
        #expect(s.acquire(sessionID: "d", transport: .stream(5), purpose: .ssh) == .full)
        #expect(s.inUse == 3)
        s.release(1)
        #expect(!s.isFull)
        #expect(s.sessionID(of: 1) == nil)
        #expect(s.transport(of: 1) == nil)
        #expect(s.acquire(sessionID: "d", transport: .stream(5), purpose: .ssh) == .acquired(slot: 1))
        #expect(s.sessionID(of: 1) == "d")
        // Double release is harmless and does not corrupt the count.
        s.release(0)
        s.release(0)
        #expect(s.inUse == 2)
    }

    @Test func lookups() {
        var s = SessionSlots(capacity: 4)
        _ = s.acquire(sessionID: uid, transport: .stream(1), purpose: .ssh)
        _ = s.acquire(sessionID: uid + "00", transport: .dialBack(2), purpose: .ssh)
        _ = s.acquire(sessionID: "req-1", transport: .stream(9), purpose: .proxy)
        #expect(s.slot(forSession: uid) == 0)
        #expect(s.slot(forSession: uid + "00") == 1)
        #expect(s.slot(forSession: String(repeating: "ab", count: 31) + "ac") == nil)
        // Close requests name SSH sessions only.
        #expect(s.slot(forSession: "req-1") == nil)
        #expect(s.slot(for: .stream(9)) == 2)
        #expect(s.slot(for: .dialBack(2)) == 1)
        #expect(s.slot(for: .dialBack(1)) == nil)
        #expect(s.slot(for: .stream(2)) == nil)
        #expect(s.purpose(of: 2) == .proxy)
        #expect(s.transport(of: 1) == .dialBack(2))
        #expect(s.sessionID(of: 0) == uid)
        s.release(0)
        #expect(s.slot(forSession: uid) == nil)
    }

    @Test func longestIdFitsLongerIsRefused() {
        var s = SessionSlots(capacity: 2)
        let max = String(repeating: "f", count: 128)
        #expect(s.acquire(sessionID: max, transport: .stream(1), purpose: .ssh) == .acquired(slot: 0))
        #expect(s.sessionID(of: 0) == max)
        #expect(s.acquire(sessionID: max + "f", transport: .stream(3), purpose: .ssh) == .sessionIDTooLong)
        // The neighbour's bytes are intact.
        _ = s.acquire(sessionID: "x", transport: .stream(5), purpose: .ssh)
        #expect(s.sessionID(of: 0) == max)
        #expect(s.slot(forSession: max) == 0)
    }

    @Test func churnNeverExceedsCapacity() {
        var rng = SeededRandom(seed: 7)
        var s = SessionSlots(capacity: 8)
        var live: [Int] = []
        for n in 0..<10_000 {
            if Bool.random(using: &rng) || live.isEmpty {
                switch s.acquire(sessionID: "s\(n)", transport: .stream(UInt32(2 * n + 1)), purpose: .ssh) {
                case .acquired(let slot):
                    #expect(!live.contains(slot))
                    live.append(slot)
                case .full: #expect(live.count == 8)
                case .sessionIDTooLong: Issue.record("unexpected")
                }
            } else {
                let i = Int.random(in: 0..<live.count, using: &rng)
                s.release(live.remove(at: i))
            }
            #expect(s.inUse == live.count)
        }
        #expect(s.capacity == 8)
    }

    @Test func aProxyDialIsAnsweredOnce() {
        var s = SessionSlots(capacity: 2)
        guard case .acquired(let ssh) = s.acquire(sessionID: "a", transport: .stream(1), purpose: .ssh),
              case .acquired(let proxy) = s.acquireProxy(transport: .dialBack(3))
        else { Issue.record("no slot"); return }
        // An SSH slot waits for no dial; a proxy slot once, on its own transport.
        #expect(s.proxyDialed(ssh) == nil)
        #expect(s.proxyDialed(proxy) == .dialBack(3))
        #expect(s.proxyDialed(proxy) == nil)
        // A v1 proxy has no session id: a close request naming any id (even an empty one,
        // or the "proxy" the old sentinel used) never finds it.
        #expect(s.slot(forSession: "") == nil)
        #expect(s.slot(forSession: "proxy") == nil)
        #expect(s.purpose(of: proxy) == .proxy)
        // A slot freed before its dial finished is not answered; a reused slot waits afresh.
        s.release(proxy)
        #expect(s.proxyDialed(proxy) == nil)
        guard case .acquired(let again) = s.acquire(sessionID: "p", transport: .stream(5), purpose: .proxy)
        else { Issue.record("no slot"); return }
        #expect(again == proxy)
        #expect(s.proxyDialed(again) == .stream(5))
    }
}
