// libFuzzer target: yamux header decoder and listener session. The input is a script: each op
// byte selects feeding peer bytes or calling a session method, so both the decoder and the
// state machine (windows, close states, refusals) are exercised. Checks: output is always a
// sequence of well-formed frames, Data frames never exceed the peer's window, no event for a
// stream the session does not know, receive windows stay within the maximum.

struct Checker {
    var sendWindows: [UInt32: Int64] = [:]

    /// Walks the session's output frame by frame.
    mutating func check(_ out: [UInt8]) {
        var i = 0
        while i < out.count {
            guard out.count - i >= 12 else { fatalError("truncated frame in output") }
            guard let h = try? YamuxHeader.decode(Array(out[i..<(i + 12)])) else { fatalError("bad header in output") }
            i += 12
            if h.type == .data {
                i += Int(h.length)
                if i > out.count { fatalError("data frame beyond output") }
                let w = (sendWindows[h.streamID] ?? Int64(YamuxConfig.defaultStreamWindow)) - Int64(h.length)
                if w < 0 { fatalError("sent beyond the peer's window") }
                sendWindows[h.streamID] = w
            }
            if h.type == .ping || h.type == .goAway, h.streamID != 0 { fatalError("session frame with stream id") }
        }
    }
}

/// Payload source for sends, allocated once: per-input allocations of up to 255 KiB made the
/// target ~10x slower under ASan.
nonisolated(unsafe) let sendSource = [UInt8](repeating: 0x5A, count: 255 * 1024)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzYamux(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    var s = YamuxSession(config: YamuxConfig(maxStreams: 4))
    var checker = Checker()
    var i = 0
    var dead = false
    func byte() -> UInt8 {
        defer { i += 1 }
        return i < input.count ? input[i] : 0
    }
    while i < input.count && !dead {
        let op = byte()
        let arg = byte()
        let id = UInt32(arg & 0x0F)
        switch op % 8 {
        case 0, 1, 2:
            // Feed the next `arg` bytes (0 → 12: one header's worth) as peer input.
            let n = Swift.max(0, Swift.min(arg == 0 ? 12 : Int(arg), input.count - i))
            if n > 0 { s.feed(input[i..<(i + n)]) }
            i += n
            var count = 0
            while true {
                let e: YamuxEvent?
                do {
                    e = try s.next()
                } catch {
                    dead = true
                    break
                }
                guard let ev = e else { break }
                count += 1
                if count > 100_000 { fatalError("event loop does not terminate") }
                switch ev {
                case .streamOpened(let sid):
                    // SYN may share its frame with FIN or RST, so the stream may already be
                    // half-closed (still unacknowledged) or gone when the event is seen.
                    let st = s.state(sid)
                    if st != nil && st != .synReceived && st != .remoteClosed { fatalError("opened stream acknowledged") }
                    if sid % 2 == 0 { fatalError("even stream accepted") }
                    if sid & 1 == 1 && (sid >> 1) & 1 == 1 { s.refuse(sid) } else { s.accept(sid) }
                case .data(let sid, let d):
                    if d.isEmpty { fatalError("empty data event") }
                    if s.receiveWindow(sid) > Int(YamuxConfig.defaultStreamWindow) { fatalError("window above max") }
                case .sendWindowOpened(let sid):
                    if s.state(sid) == nil { fatalError("window event for unknown stream") }
                    if let w = checker.sendWindows[sid], Int64(s.sendWindow(sid)) < w { fatalError("window shrank") }
                    checker.sendWindows[sid] = Int64(s.sendWindow(sid))
                default:
                    break
                }
            }
            if s.openStreamCount > 4 { fatalError("stream table over limit") }
        case 3:
            s.consumed(id, Int(arg) * 4096)
        case 4:
            let want = Int(arg) * 1024
            let before = s.sendWindow(id)
            if let n = try? s.send(id, sendSource[..<want]) {
                if n > before || n > want { fatalError("send took more than allowed") }
            }
        case 5:
            if arg & 0x10 != 0 { s.close(id) } else { s.reset(id) }
        case 6:
            s.ping(UInt32(arg))
        default:
            s.goAway()
        }
        checker.check(s.takeOutput())
        // Streams reset or fully closed start afresh if the peer reuses the id.
        for sid in checker.sendWindows.keys where s.state(sid) == nil { checker.sendWindows[sid] = nil }
    }
    return 0
}
