import Testing
@testable import TetherWire

private func b(_ s: String) -> [UInt8] { Array(s.utf8) }

private func drain(_ l: inout MultistreamListener) throws(MultistreamError) -> [MultistreamEvent] {
    var out: [MultistreamEvent] = []
    while let e = try l.next() { out.append(e) }
    return out
}

@Suite struct MultistreamTests {
    static let uid = String(repeating: "0f", count: 32)

    @Test func framingConstants() {
        // PROTOCOL.md 5.2 table.
        #expect(Multistream.encode("/multistream/1.0.0") == [0x13] + b("/multistream/1.0.0\n"))
        #expect(Multistream.encode("/ssh/open/1.0.0") == [0x10] + b("/ssh/open/1.0.0\n"))
        #expect(Multistream.encode("/ssh/close/1.0.0") == [0x11] + b("/ssh/close/1.0.0\n"))
        #expect(Multistream.encode("/http/proxy/1.0.0") == [0x12] + b("/http/proxy/1.0.0\n"))
        #expect(Multistream.encode("na") == [0x03, 0x6E, 0x61, 0x0A])
        #expect(Multistream.encode(String(repeating: "x", count: 200)).prefix(2) == [0xC9, 0x01])
    }

    @Test func appendixASSHOpen() throws {
        var l = MultistreamListener()
        // Our header goes out before anything is read.
        #expect(l.takeOutput() == [0x13] + b("/multistream/1.0.0\n"))
        let server = [0x13] + b("/multistream/1.0.0\n") + [0x10] + b("/ssh/open/1.0.0\n")
        #expect(server.count == 37)
        let line = b("{\"id\":\"\(Self.uid)\"}\n")
        #expect(line.count == 74)
        let later = b("SSH-2.0-Go\r\n")
        let all = server + line + later
        // Byte by byte: nothing is consumed past the header's newline.
        var events: [MultistreamEvent] = []
        for x in all {
            l.feed([x])
            events += try drain(&l)
        }
        #expect(l.takeOutput() == [0x10] + b("/ssh/open/1.0.0\n"))
        #expect(events == [.ready(.sshOpen, StreamHeader(id: Self.uid), leftover: [])])
        // In one piece the SSH bytes come back as leftover.
        var m = MultistreamListener()
        m.feed(all)
        #expect(try drain(&m) == [.ready(.sshOpen, StreamHeader(id: Self.uid), leftover: later)])
        #expect(m.isDone)
    }

    @Test func unknownThenProxy() throws {
        var l = MultistreamListener()
        _ = l.takeOutput()
        l.feed(Multistream.encode("/multistream/1.0.0") + Multistream.encode("/ssh/future/2.0.0"))
        #expect(try drain(&l) == [.declined("/ssh/future/2.0.0")])
        #expect(l.takeOutput() == b("\u{3}na\n"))
        l.feed(Multistream.encode("/http/proxy/1.0.0") + b(#"{"id":"r","host":"127.0.0.1","port":"22"}"#))
        #expect(try drain(&l) == [])
        #expect(l.takeOutput() == Multistream.encode("/http/proxy/1.0.0"))
        l.feed(b("\n"))
        #expect(try drain(&l) == [.ready(.httpProxy, StreamHeader(id: "r", host: "127.0.0.1", port: "22"), leftover: [])])
    }

    @Test func close() throws {
        var l = MultistreamListener()
        l.feed(Multistream.encode("/multistream/1.0.0") + Multistream.encode("/ssh/close/1.0.0") + b("{\"id\":\"x\"}\n"))
        #expect(try drain(&l) == [.ready(.sshClose, StreamHeader(id: "x"), leftover: [])])
    }

    @Test func errors() {
        var a = MultistreamListener()
        a.feed(Multistream.encode("/multistream/2.0.0"))
        #expect(throws: MultistreamError.wrongMultistreamHeader) { try a.next() }
        #expect(throws: MultistreamError.wrongMultistreamHeader) { try a.next() }  // sticky
        var b1 = MultistreamListener()
        b1.feed([0x02, 0x61, 0x62])
        #expect(throws: MultistreamError.missingNewline) { try b1.next() }
        var c = MultistreamListener()
        c.feed([0x81, 0x08])  // 1025
        #expect(throws: MultistreamError.messageTooLong(1025)) { try c.next() }
        var d = MultistreamListener()
        d.feed([0x85, 0x00])  // non-minimal 5
        #expect(throws: MultistreamError.invalidVarint) { try d.next() }
        var e = MultistreamListener()
        e.feed([0x00])
        #expect(throws: MultistreamError.missingNewline) { try e.next() }
        var f = MultistreamListener()
        f.feed(Multistream.encode("/multistream/1.0.0"))
        for i in 0...Multistream.maxProposals { f.feed(Multistream.encode("/x/\(i)")) }
        #expect(throws: MultistreamError.tooManyProposals) { while try f.next() != nil {} }
        var g = MultistreamListener()
        g.feed(Multistream.encode("/multistream/1.0.0") + Multistream.encode("/ssh/open/1.0.0") + b("{\"id\":1}\n"))
        #expect(throws: MultistreamError.invalidHeaderLine(.wrongType("id"))) { try drain(&g) }
        var h = MultistreamListener()
        h.feed(Multistream.encode("/multistream/1.0.0") + Multistream.encode("/ssh/open/1.0.0")
               + [UInt8](repeating: 0x20, count: Multistream.maxHeaderLineBytes))
        #expect(throws: MultistreamError.headerLineTooLong) { try drain(&h) }
    }
}
