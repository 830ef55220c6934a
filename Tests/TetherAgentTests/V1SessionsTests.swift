import Testing
import TetherWire
@testable import TetherAgent

@Suite struct V1SessionsTests {
    let path = "/ssh/revdial?revdial.dialer=9fe1&uuid=0c1e"
    let uid = String(repeating: "c3", count: 32)

    func connReady(_ p: String) -> [UInt8] {
        Array("{\"command\":\"conn-ready\",\"connPath\":\"\(p)\"}\n".utf8)
    }

    func drain(_ v: inout V1Sessions) -> [V1Action] {
        var out: [V1Action] = []
        while let a = v.nextAction() { out.append(a) }
        return out
    }

    @Test func appendixBDialBackOpensSSH() throws {
        var v = V1Sessions(sessionSlots: 2)
        // keep-alive then conn-ready, split across WebSocket messages.
        let bytes = Array("{\"command\":\"keep-alive\"}\n".utf8) + connReady(path)
        try v.controlReceived(bytes.prefix(30), now: .zero)
        try v.controlReceived(bytes.dropFirst(30), now: .zero)
        #expect(drain(&v) == [.dialBack(connPath: path)])
        #expect(v.takeControlOutput().isEmpty)  // no agent keep-alives: quiet by design
        v.dialBackConnected(connPath: path, conn: 40, now: .s(1))
        let head = "GET /ssh/\(uid) HTTP/1.1\r\nHost: \r\nUser-Agent: Go-http-client/1.1\r\n\r\n"
        v.dialBackReceived(conn: 40, Array(head.utf8.prefix(20)))
        #expect(drain(&v).isEmpty)
        v.dialBackReceived(conn: 40, Array(head.utf8.dropFirst(20)) + Array("SSH-2.0-Go\r\n".utf8))
        #expect(drain(&v) == [.openSSH(slot: 0, conn: 40, sessionID: uid, initialBytes: Array("SSH-2.0-Go\r\n".utf8))])
        v.dialBackReceived(conn: 40, [9, 9])
        #expect(drain(&v) == [.data(slot: 0, [9, 9])])
        #expect(v.connection(of: 0) == 40)
        // The control connection drops and comes back: the session survives.
        v.controlReset()
        #expect(v.slots.sessionID(of: 0) == uid)
        #expect(v.dialBackClosed(conn: 40) == 0)
        #expect(v.slots.inUse == 0)
    }

    @Test func failedDialBackSendsPickupFailed() throws {
        var v = V1Sessions(sessionSlots: 1)
        try v.controlReceived(connReady(path), now: .zero)
        _ = drain(&v)
        v.dialBackFailed(connPath: path, error: "bad handshake")
        #expect(v.takeControlOutput()
            == RevdialControlMessage.pickupFailed(connPath: path, error: "bad handshake").encode())
        #expect(v.pendingDialBacks == 0)
    }

    @Test func closeRequestAnswers200EvenWhenFull() throws {
        var v = V1Sessions(sessionSlots: 1)
        try v.controlReceived(connReady(path + "1"), now: .zero)
        v.dialBackConnected(connPath: path + "1", conn: 1, now: .zero)
        v.dialBackReceived(conn: 1, Array("GET /ssh/\(uid) HTTP/1.1\r\nHost: \r\n\r\n".utf8))
        try v.controlReceived(connReady(path + "2"), now: .zero)
        v.dialBackConnected(connPath: path + "2", conn: 2, now: .zero)
        v.dialBackReceived(conn: 2, Array("GET /ssh/other HTTP/1.1\r\nHost: \r\n\r\n".utf8))
        try v.controlReceived(connReady(path + "3"), now: .zero)
        v.dialBackConnected(connPath: path + "3", conn: 3, now: .zero)
        v.dialBackReceived(conn: 3, Array("GET /ssh/close/\(uid) HTTP/1.1\r\nHost: \r\n\r\n".utf8))
        #expect(drain(&v) == [
            .dialBack(connPath: path + "1"), .openSSH(slot: 0, conn: 1, sessionID: uid, initialBytes: []),
            .dialBack(connPath: path + "2"), .refused(conn: 2, reason: .slotsFull), .closeConnection(conn: 2),
            .dialBack(connPath: path + "3"), .closeSSH(slot: 0),
            .write(conn: 3, Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)), .closeConnection(conn: 3),
        ])
    }

    @Test func proxyOverDialBack() throws {
        var v = V1Sessions(sessionSlots: 2)
        try v.controlReceived(connReady(path), now: .zero)
        v.dialBackConnected(connPath: path, conn: 5, now: .zero)
        v.dialBackReceived(conn: 5, Array("CONNECT /http/proxy/[::1]:8080 HTTP/1.1\r\nHost: \r\n\r\n".utf8))
        #expect(drain(&v).last == .proxy(slot: 0, conn: 5, host: "::1", port: 8080, initialBytes: []))
        v.proxyConnected(0)
        #expect(drain(&v) == [.write(conn: 5, Array("HTTP/1.1 200 OK\r\n\r\n".utf8))])
        try v.controlReceived(connReady(path + "x"), now: .zero)
        v.dialBackConnected(connPath: path + "x", conn: 6, now: .zero)
        v.dialBackReceived(conn: 6, Array("CONNECT /http/proxy/10.1.1.1:22 HTTP/1.1\r\nHost: \r\n\r\n".utf8))
        _ = drain(&v)
        v.proxyFailed(1, message: "refused")
        let a = drain(&v)
        #expect(a.count == 2)
        if case .write(6, let bytes) = a[0] {
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 500 Internal Server Error\r\n"))
            #expect(text.hasSuffix("Content-Length: 8\r\n\r\nrefused\n"))
        } else {
            Issue.record("expected a 500 write, got \(a)")
        }
        #expect(a[1] == .closeConnection(conn: 6))
        #expect(v.slots.inUse == 1)
    }

    @Test func pendingDialBacksAreBounded() throws {
        var v = V1Sessions(sessionSlots: 1)
        for n in 0..<(V1Sessions.maxPendingDialBacks + 2) {
            try v.controlReceived(connReady(path + "\(n)"), now: .zero)
        }
        let a = drain(&v)
        #expect(a.filter { if case .dialBack = $0 { return true } else { return false } }.count == V1Sessions.maxPendingDialBacks)
        #expect(a.filter { $0 == .refusedDialBack(reason: .tooManyNegotiating) }.count == 2)
        let out = String(decoding: v.takeControlOutput(), as: UTF8.self)
        #expect(out.split(separator: "\n").count == 2)
        #expect(out.hasPrefix("{\"command\":\"pickup-failed\""))
    }

    @Test func garbageAndSilenceOnDialBacks() throws {
        var v = V1Sessions(sessionSlots: 1)
        try v.controlReceived(connReady(path), now: .zero)
        v.dialBackConnected(connPath: path, conn: 1, now: .s(10))
        v.dialBackReceived(conn: 1, Array("DELETE /ssh/close/x HTTP/1.1\r\nHost: \r\n\r\n".utf8))
        #expect(drain(&v).suffix(2) == [.refused(conn: 1, reason: .badHeader), .closeConnection(conn: 1)])
        try v.controlReceived(connReady(path + "2"), now: .s(10))
        v.dialBackConnected(connPath: path + "2", conn: 2, now: .s(10))
        v.dialBackReceived(conn: 2, Array("\u{01}\u{02} nonsense\r\n\r\n".utf8))
        #expect(drain(&v).suffix(2) == [.refused(conn: 2, reason: .negotiationFailed), .closeConnection(conn: 2)])
        // A dial-back that never sends its head is closed after the timeout.
        try v.controlReceived(connReady(path + "3"), now: .s(10))
        v.dialBackConnected(connPath: path + "3", conn: 3, now: .s(20))
        _ = drain(&v)
        #expect(v.nextDeadline == .s(80))
        v.timerFired(now: .s(80))
        #expect(drain(&v) == [.refused(conn: 3, reason: .negotiationTimeout), .closeConnection(conn: 3)])
        #expect(v.pendingDialBacks == 0)
        // Garbage on the control line is an error for the control connection only.
        #expect(throws: RevdialError.self) { try v.controlReceived(Array("not json\n".utf8), now: .s(90)) }
        v.controlReset()
        try v.controlReceived(connReady(path + "4"), now: .s(91))
        #expect(drain(&v) == [.dialBack(connPath: path + "4")])
    }
}
