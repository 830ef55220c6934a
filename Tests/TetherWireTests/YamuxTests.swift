import Testing
@testable import TetherWire

private func hdr(_ t: YamuxFrameType, _ f: YamuxFlags = [], _ id: UInt32 = 0, _ len: UInt32 = 0) -> [UInt8] {
    YamuxHeader(type: t, flags: f, streamID: id, length: len).bytes
}

private func drain(_ s: inout YamuxSession) throws(YamuxError) -> [YamuxEvent] {
    var out: [YamuxEvent] = []
    while let e = try s.next() { out.append(e) }
    return out
}

/// Splits output into frames (header + payload for Data).
private func frames(_ bytes: [UInt8]) throws -> [(YamuxHeader, [UInt8])] {
    var out: [(YamuxHeader, [UInt8])] = []
    var i = 0
    while i < bytes.count {
        let h = try YamuxHeader.decode(Array(bytes[i..<(i + 12)]))
        i += 12
        var p: [UInt8] = []
        if h.type == .data { p = Array(bytes[i..<(i + Int(h.length))]); i += Int(h.length) }
        out.append((h, p))
    }
    return out
}

@Suite struct YamuxHeaderTests {
    @Test func appendixAPingAck() throws {
        #expect(hdr(.ping, .ack, 0, 7) == [0x00, 0x02, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 7])
        let h = try YamuxHeader.decode([0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0])
        #expect(h == YamuxHeader(type: .windowUpdate, flags: .syn, streamID: 1, length: 0))
        #expect(hdr(.data, [.fin, .rst], 0x01020304, 0x0A0B0C0D) == [0, 0, 0, 0x0C, 1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D])
        #expect(hdr(.goAway, [], 0, 2) == [0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2])
    }

    @Test func rejectsBadHeaders() {
        #expect(throws: YamuxError.unsupportedVersion(1)) { try YamuxHeader.decode([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) }
        #expect(throws: YamuxError.invalidFrameType(4)) { try YamuxHeader.decode([0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) }
    }
}

@Suite struct YamuxSessionTests {
    @Test func appendixAStreamOpen() throws {
        var s = YamuxSession()
        s.feed(hdr(.windowUpdate, .syn, 1))
        #expect(try drain(&s) == [.streamOpened(1)])
        #expect(s.state(1) == .synReceived)
        s.accept(1)
        #expect(s.state(1) == .established)
        let ms = [0x13] + Array("/multistream/1.0.0\n".utf8)
        #expect(try s.send(1, ms) == 20)
        // ACK then the multistream header, coalesced in one buffer (PROTOCOL.md Appendix A).
        #expect(s.takeOutput() == hdr(.windowUpdate, .ack, 1) + hdr(.data, [], 1, 20) + ms)
        let server = [0x13] + Array("/multistream/1.0.0\n".utf8) + [0x10] + Array("/ssh/open/1.0.0\n".utf8)
        #expect(server.count == 37)
        let wire = hdr(.data, [], 1, 37) + server
        // Byte-by-byte delivery yields the same payload.
        var got: [UInt8] = []
        for b in wire {
            s.feed([b])
            for e in try drain(&s) {
                guard case .data(1, let d) = e else { Issue.record("unexpected \(e)"); continue }
                got += d
            }
        }
        #expect(got == server)
        #expect(s.receiveWindow(1) == 256 * 1024 - 37)
    }

    @Test func pingIsAnsweredAtOnce() throws {
        var s = YamuxSession()
        s.feed(hdr(.ping, .syn, 0, 7))
        #expect(try drain(&s) == [.ping(7)])
        #expect(s.takeOutput() == [0x00, 0x02, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 7])
        s.ping(9)
        #expect(s.takeOutput() == hdr(.ping, .syn, 0, 9))
        s.feed(hdr(.ping, .ack, 0, 9))
        #expect(try drain(&s) == [.pingAck(9)])
        #expect(!s.hasOutput)
    }

    @Test func synOnDataWithPayloadAndFin() throws {
        var s = YamuxSession()
        s.feed(hdr(.data, [.syn, .fin], 3, 2) + [0xAA, 0xBB])
        #expect(try drain(&s) == [.streamOpened(3), .data(3, [0xAA, 0xBB]), .remoteClosed(3)])
        #expect(s.state(3) == .remoteClosed)
        // First send acknowledges the stream through the Data frame's flags.
        #expect(try s.send(3, [1]) == 1)
        #expect(s.takeOutput() == hdr(.data, .ack, 3, 1) + [1])
        s.close(3)
        #expect(s.takeOutput() == hdr(.windowUpdate, .fin, 3))
        #expect(s.state(3) == nil)
    }

    @Test func localThenRemoteClose() throws {
        var s = YamuxSession()
        s.feed(hdr(.windowUpdate, .syn, 5))
        _ = try drain(&s)
        s.accept(5)
        s.close(5)
        #expect(s.state(5) == .localClosed)
        #expect(throws: YamuxStreamError.notWritable(5)) { try s.send(5, [1]) }
        #expect(s.sendWindow(5) == 0)
        _ = s.takeOutput()
        s.feed(hdr(.data, [], 5, 1) + [9] + hdr(.windowUpdate, .fin, 5))
        #expect(try drain(&s) == [.data(5, [9]), .remoteClosed(5)])
        #expect(s.state(5) == nil)
        #expect(s.openStreamCount == 0)
    }

    @Test func refuseAndReset() throws {
        var s = YamuxSession()
        s.feed(hdr(.windowUpdate, .syn, 1))
        _ = try drain(&s)
        s.refuse(1)
        #expect(s.takeOutput() == hdr(.windowUpdate, .rst, 1))
        // Data for the refused stream is drained silently.
        s.feed(hdr(.data, [], 1, 3) + [1, 2, 3] + hdr(.ping, .syn, 0, 1))
        #expect(try drain(&s) == [.ping(1)])
        s.feed(hdr(.windowUpdate, .syn, 7) + hdr(.windowUpdate, .rst, 7))
        #expect(try drain(&s) == [.streamOpened(7), .streamReset(7)])
        #expect(s.state(7) == nil)
        #expect(throws: YamuxStreamError.unknownStream(7)) { try s.send(7, [1]) }
    }

    @Test func backlogLimitRefuses() throws {
        var s = YamuxSession(config: YamuxConfig(maxStreams: 1))
        s.feed(hdr(.windowUpdate, .syn, 1) + hdr(.windowUpdate, .syn, 3))
        // The RST is not silent: the caller hears of the refusal (for its log).
        #expect(try drain(&s) == [.streamOpened(1), .streamRefused(3)])
        #expect(s.takeOutput() == hdr(.windowUpdate, .rst, 3))
    }

    @Test func receiveWindowAndUpdates() throws {
        var s = YamuxSession()
        s.feed(hdr(.windowUpdate, .syn, 1))
        _ = try drain(&s)
        s.accept(1)
        _ = s.takeOutput()
        let chunk = [UInt8](repeating: 7, count: 64 * 1024)
        for _ in 0..<4 { s.feed(hdr(.data, [], 1, UInt32(chunk.count)) + chunk) }
        var received = 0
        for e in try drain(&s) { if case .data(_, let d) = e { received += d.count } }
        #expect(received == 256 * 1024)
        #expect(s.receiveWindow(1) == 0)
        // Consuming less than half grants nothing; reaching half sends one update.
        s.consumed(1, 100 * 1024)
        #expect(!s.hasOutput)
        s.consumed(1, 28 * 1024)
        #expect(s.takeOutput() == hdr(.windowUpdate, [], 1, 128 * 1024))
        #expect(s.receiveWindow(1) == 128 * 1024)
        // One byte beyond the window is a protocol error with GoAway, like hashicorp.
        s.feed(hdr(.data, [], 1, 128 * 1024 + 1))
        #expect(throws: YamuxError.receiveWindowExceeded(stream: 1)) { try s.next() }
        #expect(s.takeOutput() == hdr(.goAway, [], 0, 1))
        #expect(throws: YamuxError.receiveWindowExceeded(stream: 1)) { try s.next() }  // sticky
    }

    @Test func sendWindowAccounting() throws {
        var s = YamuxSession()
        s.feed(hdr(.windowUpdate, .syn, 1))
        _ = try drain(&s)
        s.accept(1)
        _ = s.takeOutput()
        let big = [UInt8](repeating: 1, count: 300 * 1024)
        #expect(s.sendWindow(1) == 256 * 1024)
        #expect(try s.send(1, big) == 256 * 1024)
        #expect(s.sendWindow(1) == 0)
        #expect(try s.send(1, big) == 0)
        let out = s.takeOutput()
        let fs = try frames(out)
        #expect(fs.count == 1 && fs[0].0.length == 256 * 1024)
        s.feed(hdr(.windowUpdate, [], 1, 1000))
        #expect(try drain(&s) == [.sendWindowOpened(1)])
        #expect(s.sendWindow(1) == 1000)
        #expect(try s.send(1, big[...]) == 1000)
    }

    @Test func protocolErrors() throws {
        var a = YamuxSession()
        a.feed(hdr(.windowUpdate, .syn, 2))
        #expect(throws: YamuxError.streamIDParity(2)) { try a.next() }
        var b = YamuxSession()
        b.feed(hdr(.windowUpdate, .syn, 1) + hdr(.windowUpdate, .syn, 1))
        #expect(try b.next() == .streamOpened(1))
        #expect(throws: YamuxError.duplicateStream(1)) { try b.next() }
        #expect(b.takeOutput() == hdr(.goAway, [], 0, 1))
        var c = YamuxSession()
        c.feed(hdr(.windowUpdate, .syn, 1) + hdr(.windowUpdate, .fin, 1) + hdr(.windowUpdate, .fin, 1))
        #expect(throws: YamuxError.unexpectedFlag(stream: 1)) { try drain(&c) }
        var d = YamuxSession()
        d.feed([0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(throws: YamuxError.invalidFrameType(9)) { try d.next() }
        var e = YamuxSession()
        e.feed(hdr(.goAway, [], 0, 2))
        #expect(throws: YamuxError.remoteGoAway(code: 2)) { try e.next() }
    }

    @Test func goAway() throws {
        var s = YamuxSession()
        s.feed(hdr(.goAway, [], 0, 0))
        #expect(try drain(&s) == [.goAway])
        #expect(s.remoteGoAway)
        var t = YamuxSession()
        t.goAway()
        #expect(t.takeOutput() == hdr(.goAway, [], 0, 0))
        t.feed(hdr(.windowUpdate, .syn, 1) + hdr(.data, [], 1, 2) + [1, 2])
        #expect(try drain(&t) == [.streamRefused(1)])
        #expect(t.takeOutput() == hdr(.windowUpdate, .rst, 1))
    }

    @Test func framesForMissingStreamsAreIgnored() throws {
        var s = YamuxSession()
        s.feed(hdr(.windowUpdate, [], 11, 5) + hdr(.windowUpdate, .fin, 13) + hdr(.data, [], 15, 2) + [0, 0])
        #expect(try drain(&s) == [])
        #expect(!s.hasOutput)
    }
}

@Suite struct YamuxStaleEventTests {
    @Test func noEventsAfterCallerReset() throws {
        var s = YamuxSession()
        // SYN with a window delta and a Data frame whose payload arrives in two pieces.
        s.feed(hdr(.windowUpdate, .syn, 1, 10))
        #expect(try s.next() == .streamOpened(1))
        s.refuse(1)
        #expect(try s.next() == nil)  // the queued .sendWindowOpened(1) is dropped
        var t = YamuxSession()
        t.feed(hdr(.windowUpdate, .syn, 3) + hdr(.data, .fin, 3, 4) + [1, 2])
        #expect(try t.next() == .streamOpened(3))
        t.accept(3)
        #expect(try t.next() == .data(3, [1, 2]))
        t.reset(3)
        t.feed([3, 4] + hdr(.ping, .syn, 0, 5))
        #expect(try drain(&t) == [.ping(5)])
    }
}
