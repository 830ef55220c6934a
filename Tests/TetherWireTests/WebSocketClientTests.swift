import Testing
@testable import TetherWire

@Suite struct WebSocketClientTests {
    func client(_ mode: WebSocketDeliveryMode = .message, leftover: [UInt8] = [])
        -> WebSocketClient<WebSocketFixedMasks>
    {
        WebSocketClient(mode: mode, maskSource: WebSocketFixedMasks([0x1122_3344, 0x5566_7788]),
                        leftover: leftover)
    }

    func drain(_ c: inout WebSocketClient<WebSocketFixedMasks>) throws(WebSocketError) -> [WebSocketEvent] {
        var events: [WebSocketEvent] = []
        while let e = try c.nextEvent() { events.append(e) }
        return events
    }

    @Test func leftoverFromTheHandshakeIsDecoded() throws {
        var c = client(leftover: webSocketServerFrame(1, Array("hi".utf8)))
        #expect(try drain(&c) == [.text(Array("hi".utf8))])
    }

    @Test func pingIsAnsweredWithTheSamePayload() throws {
        var c = client()
        c.receive(webSocketServerFrame(9, [1, 2, 3]))
        #expect(try drain(&c) == [.ping([1, 2, 3])])
        let frames = webSocketParseClientFrames(c.takeOutbound())
        #expect(frames == [WebSocketTestFrame(fin: true, opcode: 0xA, key: 0x1122_3344, payload: [1, 2, 3])])
    }

    @Test func peerCloseIsEchoedOnceThenDone() throws {
        var c = client()
        c.receive(webSocketServerFrame(8, [0x0F, 0xA0, 0x41]))  // 4000 "A"
        #expect(try drain(&c) == [.close(code: 4000, reason: [0x41])])
        #expect(c.closeState == .closed)
        let frames = webSocketParseClientFrames(c.takeOutbound())
        #expect(frames?.count == 1)
        #expect(frames?[0].opcode == 8)
        #expect(frames?[0].payload == [0x0F, 0xA0])
        let sent = c.sendText(Array("late".utf8))
        #expect(!sent)
        #expect(!c.hasPendingOutbound)
    }

    @Test func emptyCloseIsAnsweredWithNormal() throws {
        var c = client()
        c.receive(webSocketServerFrame(8, []))
        _ = try drain(&c)
        #expect(webSocketParseClientFrames(Array(c.pendingOutbound))?[0].payload == [0x03, 0xE8])
    }

    @Test func ourCloseIsSentOnceAndTheReplyEndsIt() throws {
        var c = client()
        c.close(code: 1001)
        c.close(code: 1000)
        #expect(c.closeState == .closeSent)
        c.receive(webSocketServerFrame(9, []) + webSocketServerFrame(2, [9]) + webSocketServerFrame(8, [0x03, 0xE9]))
        #expect(try drain(&c) == [.ping([]), .binary([9]), .close(code: 1001, reason: [])])
        #expect(c.closeState == .closed)
        // One close frame, no pong after our close, no echo of theirs.
        #expect(webSocketParseClientFrames(Array(c.pendingOutbound))?.map(\.opcode) == [8])
    }

    @Test func protocolErrorQueuesTheFailingClose() {
        var c = client()
        c.receive([0x81, 0x02, 0xC3, 0x28])  // invalid UTF-8
        #expect(throws: WebSocketError.invalidUTF8) { _ = try drain(&c) }
        #expect(c.closeState == .closed)
        #expect(webSocketParseClientFrames(Array(c.pendingOutbound))?[0].payload == [0x03, 0xEF])  // 1007
        var d = client()
        d.receive([0xC1, 0x00])
        #expect(throws: WebSocketError.reservedBitsSet) { _ = try drain(&d) }
        #expect(webSocketParseClientFrames(Array(d.pendingOutbound))?[0].payload == [0x03, 0xEA])  // 1002
    }

    @Test func largeWritesAreFragmented() {
        var c = WebSocketClient(
            limits: WebSocketLimits(maxFrameSize: 1 << 20, maxMessageSize: 1 << 20,
                                    maxOutgoingFrameSize: 1000, maxHandshakeHeadSize: 8192),
            maskSource: WebSocketFixedMasks([7]))
        let data = (0..<2500).map { UInt8(truncatingIfNeeded: $0) }
        c.sendBinary(data)
        let frames = webSocketParseClientFrames(Array(c.pendingOutbound))!
        #expect(frames.map(\.opcode) == [2, 0, 0])
        #expect(frames.map(\.fin) == [false, false, true])
        #expect(frames.flatMap(\.payload) == data)
        var e = client()
        e.sendText([UInt8]())
        #expect(webSocketParseClientFrames(Array(e.pendingOutbound)) == [WebSocketTestFrame(fin: true, opcode: 1, key: 0x1122_3344, payload: [])])
    }

    @Test func streamModeRoundTrip() throws {
        var c = client(.stream)
        c.receive(webSocketServerFrame(2, [1, 2]) + webSocketServerFrame(2, [], fin: true)
                  + webSocketServerFrame(2, [3], fin: false) + webSocketServerFrame(0, [4]))
        #expect(try drain(&c) == [.data([1, 2]), .data([3]), .data([4])])
        c.sendBinary([5, 6, 7])
        #expect(webSocketParseClientFrames(Array(c.pendingOutbound))?[0].payload == [5, 6, 7])
        c.consumeOutbound(3)
        #expect(Array(c.pendingOutbound) == Array(c.takeOutbound()))
        #expect(!c.hasPendingOutbound)
    }

    @Test func partialWritesDrainInOrder() {
        var a = client()
        var b = client()
        let data = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 11) }
        a.sendBinary(data)
        b.sendBinary(data)
        let whole = a.takeOutbound()
        var written: [UInt8] = []
        while b.hasPendingOutbound {
            let piece = Array(b.pendingOutbound.prefix(7001))
            written += piece
            b.consumeOutbound(piece.count)
        }
        #expect(written == whole)
        #expect(webSocketParseClientFrames(written).map { $0.flatMap { $0.payload } } == data)
    }
}
