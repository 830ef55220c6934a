import Testing
@testable import TetherWire

@Suite struct WebSocketFrameTests {
    let hello: [UInt8] = [0x48, 0x65, 0x6c, 0x6c, 0x6f]

    // RFC 6455 section 5.7, example by example.

    @Test func rfcSingleFrameUnmaskedText() {
        let r = webSocketDecodeAll([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])
        #expect(r.events == [.text(hello)])
        #expect(r.error == nil)
    }

    @Test func rfcSingleFrameMaskedTextIsWhatTheEncoderWrites() {
        var masks = WebSocketFixedMasks([0x37fa_213d])
        var out: [UInt8] = []
        WebSocketFrameEncoder.appendFrame(opcode: .text, payload: hello, maskSource: &masks, to: &out)
        #expect(out == [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
        // ...and a client must refuse the same bytes from a server (section 5.1).
        #expect(webSocketDecodeAll(out).error == .maskedServerFrame)
    }

    @Test func rfcFragmentedUnmaskedText() {
        let r = webSocketDecodeAll([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f])
        #expect(r.events == [.text(hello)])
    }

    @Test func rfcPingAndMaskedPong() {
        #expect(webSocketDecodeAll([0x89, 0x05] + hello).events == [.ping(hello)])
        var masks = WebSocketFixedMasks([0x37fa_213d])
        var out: [UInt8] = []
        WebSocketFrameEncoder.appendFrame(opcode: .pong, payload: hello, maskSource: &masks, to: &out)
        #expect(out == [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
    }

    @Test func rfc256And64KiBBinaryLengths() {
        let p256 = (0..<256).map { UInt8(truncatingIfNeeded: $0) }
        #expect(webSocketDecodeAll([0x82, 0x7E, 0x01, 0x00] + p256).events == [.binary(p256)])
        let p64k = (0..<65536).map { UInt8(truncatingIfNeeded: $0 * 31) }
        let r = webSocketDecodeAll([0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0] + p64k)
        #expect(r.events == [.binary(p64k)])
        // The encoder picks the same length forms.
        var masks = WebSocketFixedMasks([0])
        var out: [UInt8] = []
        WebSocketFrameEncoder.appendFrame(opcode: .binary, payload: p256, maskSource: &masks, to: &out)
        #expect(Array(out[0..<4]) == [0x82, 0xFE, 0x01, 0x00])
        out = []
        WebSocketFrameEncoder.appendFrame(opcode: .binary, payload: p64k, maskSource: &masks, to: &out)
        #expect(Array(out[0..<10]) == [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0])
    }

    @Test func lengthBoundaries() {
        for n in [0, 1, 125, 126, 127, 128, 65535, 65536, 65537] {
            let p = [UInt8](repeating: 0x2A, count: n)
            let frame = webSocketServerFrame(2, p)
            #expect(webSocketDecodeAll(frame).events == [.binary(p)])
            #expect(webSocketDecodeAll(frame, chunk: 997).events == [.binary(p)])
            var masks = WebSocketFixedMasks([0xdead_beef])
            var out: [UInt8] = []
            WebSocketFrameEncoder.appendFrame(opcode: .binary, payload: p, maskSource: &masks, to: &out)
            #expect(webSocketParseClientFrames(out) == [WebSocketTestFrame(fin: true, opcode: 2, key: 0xdead_beef, payload: p)])
        }
    }

    @Test func byteByByteFeedingEqualsOneFeed() {
        var stream: [UInt8] = []
        stream += webSocketServerFrame(1, Array("κόσμε".utf8), fin: false)
        stream += webSocketServerFrame(9, [1, 2])
        stream += webSocketServerFrame(0, Array(" 𤭢".utf8))
        stream += webSocketServerFrame(2, [UInt8](repeating: 7, count: 300))
        stream += webSocketServerFrame(8, [0x03, 0xE8] + Array("bye".utf8))
        let whole = webSocketDecodeAll(stream)
        let bytewise = webSocketDecodeAll(stream, chunk: 1)
        #expect(whole.error == nil)
        #expect(whole.events == bytewise.events)
        #expect(whole.events == [.ping([1, 2]), .text(Array("κόσμε 𤭢".utf8)),
                                 .binary([UInt8](repeating: 7, count: 300)),
                                 .close(code: 1000, reason: Array("bye".utf8))])
    }

    @Test func rejectsReservedBitsAndOpcodes() {
        for rsv: UInt8 in 1...7 {
            #expect(webSocketDecodeAll(webSocketServerFrame(1, hello, rsv: rsv)).error == .reservedBitsSet)
        }
        for op: UInt8 in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            #expect(webSocketDecodeAll(webSocketServerFrame(op, [])).error == .reservedOpcode(op))
        }
    }

    @Test func controlFrameRules() {
        let p125 = [UInt8](repeating: 0x41, count: 125)
        #expect(webSocketDecodeAll(webSocketServerFrame(9, p125)).events == [.ping(p125)])
        // The length byte alone is enough to refuse, before the payload arrives.
        #expect(webSocketDecodeAll([0x89, 0x7E]).error == .controlFrameTooLong)
        #expect(webSocketDecodeAll(webSocketServerFrame(9, hello, fin: false)).error == .fragmentedControlFrame)
        #expect(webSocketDecodeAll(webSocketServerFrame(8, [0x03])).error == .closePayloadTooShort)
    }

    @Test func fragmentationRules() {
        #expect(webSocketDecodeAll(webSocketServerFrame(0, hello)).error == .unexpectedContinuation)
        let r = webSocketDecodeAll(webSocketServerFrame(1, hello, fin: false) + webSocketServerFrame(1, hello))
        #expect(r.error == .expectedContinuation)
        // A finished message, then a stray continuation (Autobahn 5.15).
        let s = webSocketServerFrame(1, hello, fin: false) + webSocketServerFrame(0, hello)
            + webSocketServerFrame(0, hello, fin: false)
        let rs = webSocketDecodeAll(s)
        #expect(rs.events == [.text(hello + hello)])
        #expect(rs.error == .unexpectedContinuation)
        // Empty fragments are legal.
        let e = webSocketServerFrame(1, [], fin: false) + webSocketServerFrame(0, [], fin: false)
            + webSocketServerFrame(0, [])
        #expect(webSocketDecodeAll(e).events == [.text([])])
    }

    @Test func lengthEncodingRules() {
        #expect(webSocketDecodeAll([0x82, 126, 0, 125]).error == .nonMinimalLength)
        #expect(webSocketDecodeAll([0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]).error == .nonMinimalLength)
        #expect(webSocketDecodeAll([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]).error == .lengthHighBitSet)
    }

    @Test func oversizeIsRefusedFromTheHeader() {
        // 2^40 bytes announced: refused from 10 header bytes, nothing allocated for it.
        #expect(webSocketDecodeAll([0x82, 127, 0, 0, 1, 0, 0, 0, 0, 0]).error == .frameTooLarge)
        let small = WebSocketLimits(maxFrameSize: 100, maxMessageSize: 150,
                                    maxOutgoingFrameSize: 100, maxHandshakeHeadSize: 100)
        #expect(webSocketDecodeAll(webSocketServerFrame(2, [UInt8](repeating: 0, count: 101)), limits: small).error == .frameTooLarge)
        let twoFrames = webSocketServerFrame(2, [UInt8](repeating: 0, count: 100), fin: false)
            + webSocketServerFrame(0, [UInt8](repeating: 0, count: 51))
        #expect(webSocketDecodeAll(twoFrames, limits: small).error == .messageTooLarge)
        // Stream mode does not reassemble, so only the frame limit applies.
        let sr = webSocketDecodeAll(twoFrames, mode: .stream, limits: small)
        #expect(sr.error == nil)
        #expect(sr.events.reduce(0) { n, e in if case .data(let d) = e { return n + d.count } else { return n } } == 151)
    }

    @Test func textIsValidatedAcrossFragmentsAndFailsFast() {
        // Valid only as a whole: a 4-byte sequence split over three fragments.
        let frag = webSocketServerFrame(1, [0x41, 0xF0], fin: false) + webSocketServerFrame(0, [0x9F, 0x98], fin: false)
            + webSocketServerFrame(0, [0x80])
        #expect(webSocketDecodeAll(frag).events == [.text([0x41, 0xF0, 0x9F, 0x98, 0x80])])
        // Autobahn 6.4.x: the frame is announced with 21 bytes, only a prefix arrives, and the
        // prefix already contains ED A0 (a surrogate): fail before the rest of the frame.
        let payload: [UInt8] = [0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5,
                                0xED, 0xA0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64]
        let frame = webSocketServerFrame(1, payload)
        var d = WebSocketFrameDecoder()
        d.feed(frame[0..<15])
        #expect(throws: WebSocketError.invalidUTF8) { _ = try d.next() }
        // A message that ends inside a sequence is invalid too.
        #expect(webSocketDecodeAll(webSocketServerFrame(1, [0x41, 0xE2, 0x82])).error == .invalidUTF8)
        // Binary is never validated.
        #expect(webSocketDecodeAll(webSocketServerFrame(2, [0xFF])).events == [.binary([0xFF])])
    }

    @Test func closeFrames() {
        #expect(webSocketDecodeAll(webSocketServerFrame(8, [])).events == [.close(code: nil, reason: [])])
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] {
            #expect(webSocketDecodeAll(webSocketServerFrame(8, [UInt8(code >> 8), UInt8(code & 0xFF)])).events
                    == [.close(code: code, reason: [])])
        }
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            #expect(webSocketDecodeAll(webSocketServerFrame(8, [UInt8(code >> 8), UInt8(code & 0xFF)])).error
                    == .invalidCloseCode(code))
        }
        let badReason: [UInt8] = [0x03, 0xE8, 0xCE, 0xBA, 0xED, 0xA0, 0x80]
        #expect(webSocketDecodeAll(webSocketServerFrame(8, badReason)).error == .invalidCloseReason)
        // Nothing after a close is decoded.
        let after = webSocketServerFrame(8, [0x03, 0xE8]) + webSocketServerFrame(1, hello)
        #expect(webSocketDecodeAll(after).events == [.close(code: 1000, reason: [])])
    }

    @Test func errorsAreSticky() {
        var d = WebSocketFrameDecoder()
        d.feed([0x83, 0x00])
        #expect(throws: WebSocketError.reservedOpcode(3)) { _ = try d.next() }
        d.feed(webSocketServerFrame(1, hello))
        #expect(throws: WebSocketError.reservedOpcode(3)) { _ = try d.next() }
    }

    @Test func streamModeYieldsBytesAsTheyArrive() throws {
        let frame = webSocketServerFrame(2, [UInt8](1...10), fin: false) + webSocketServerFrame(0, [11, 12])
        var d = WebSocketFrameDecoder(mode: .stream)
        d.feed(frame[0..<5])   // header + 3 payload bytes
        let first = try d.next()
        #expect(first == .data([1, 2, 3]))
        let none = try d.next()
        #expect(none == nil)
        d.feed(frame[5...])
        var got: [UInt8] = []
        while let e = try? d.next() { if case .data(let b) = e { got += b } }
        #expect(got == [4, 5, 6, 7, 8, 9, 10, 11, 12])
        #expect(webSocketDecodeAll(webSocketServerFrame(1, hello), mode: .stream).error == .textInStreamMode)
    }

    @Test func wordMaskingEqualsByteMasking() {
        for n in 0..<40 {
            for offset in 0..<4 {
                let data = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
                var fast = data
                WebSocketMask.apply(key: 0x0102_0304, to: &fast, range: 0..<n, keyOffset: offset)
                var slow = data
                for k in 0..<n {
                    slow[k] ^= UInt8(truncatingIfNeeded: 0x0102_0304 >> (24 - ((k + offset) % 4) * 8))
                }
                #expect(fast == slow)
                var bytewise = data
                bytewise.withUnsafeMutableBytes { WebSocketMask.applyBytewise(key: 0x0102_0304, to: $0) }
                if offset == 0 { #expect(bytewise == slow) }
            }
        }
    }

    @Test func encoderUsesAFreshKeyPerFrame() {
        var masks = WebSocketFixedMasks([1, 2, 3])
        var out: [UInt8] = []
        for _ in 0..<3 {
            WebSocketFrameEncoder.appendFrame(opcode: .binary, payload: hello, maskSource: &masks, to: &out)
        }
        #expect(webSocketParseClientFrames(out)?.map(\.key) == [1, 2, 3])
    }

    @Test func closeReasonIsCutOnACharacterBoundary() {
        var masks = WebSocketFixedMasks([0])
        var out: [UInt8] = []
        let reason = Array(String(repeating: "é", count: 100).utf8)  // 200 bytes
        WebSocketFrameEncoder.appendClose(code: 1000, reason: reason, maskSource: &masks, to: &out)
        let f = webSocketParseClientFrames(out)![0]
        #expect(f.payload.count == 124)
        #expect(String(validating: f.payload[2...], as: UTF8.self) != nil)
    }
}
