import Testing
import TetherWire
@testable import TetherAgent

/// A frame as the server sees it.
struct Frame: Equatable, CustomStringConvertible {
    var header: YamuxHeader
    var payload: [UInt8]
    var description: String {
        "\(header.type)/\(header.flags.rawValue)/\(header.streamID)/\(header.length) \(String(decoding: payload, as: UTF8.self))"
    }
}

/// Plays the ShellHub server's side of the v2 tunnel against a `V2Tunnel`.
struct ServerPeer {
    var tunnel: V2Tunnel
    var now = Instant.zero
    var actions: [V2TunnelAction] = []

    init(slots: Int) { tunnel = V2Tunnel(sessionSlots: slots) }

    static func frame(_ type: YamuxFrameType, _ flags: YamuxFlags, _ id: UInt32, _ payload: [UInt8] = [], length: UInt32? = nil) -> [UInt8] {
        var out: [UInt8] = []
        YamuxHeader(type: type, flags: flags, streamID: id, length: length ?? UInt32(payload.count)).encode(into: &out)
        return out + payload
    }

    /// Sends bytes to the agent; returns the frames it wrote back.
    mutating func send(_ bytes: [UInt8]) throws -> [Frame] {
        try tunnel.receive(bytes, now: now)
        while let a = tunnel.nextAction() { actions.append(a) }
        return Self.parse(tunnel.takeOutput())
    }

    mutating func takeActions() -> [V2TunnelAction] {
        while let a = tunnel.nextAction() { actions.append(a) }
        defer { actions = [] }
        return actions
    }

    mutating func output() -> [Frame] { Self.parse(tunnel.takeOutput()) }

    static func parse(_ bytes: [UInt8]) -> [Frame] {
        var frames: [Frame] = []
        var i = 0
        while i + 12 <= bytes.count {
            let h = try! YamuxHeader.decode(Array(bytes[i..<i + 12]))
            i += 12
            var payload: [UInt8] = []
            if h.type == .data {
                payload = Array(bytes[i..<i + Int(h.length)])
                i += Int(h.length)
            }
            frames.append(Frame(header: h, payload: payload))
        }
        #expect(i == bytes.count)
        return frames
    }

    static let msHeader = Multistream.encode(Multistream.protocolID)

    /// Opens stream `id` for `proto` with `header` the way ShellHub does; returns all output.
    mutating func open(_ id: UInt32, _ proto: String, header: String, after: [UInt8] = []) throws -> [Frame] {
        var out = try send(Self.frame(.windowUpdate, .syn, id))
        out += try send(Self.frame(.data, [], id, Self.msHeader + Multistream.encode(proto)))
        out += try send(Self.frame(.data, [], id, Array((header + "\n").utf8) + after))
        return out
    }
}

@Suite struct V2TunnelTests {
    let uid = String(repeating: "5e", count: 32)

    @Test func appendixASessionOpen() throws {
        var s = ServerPeer(slots: 2)
        let hello = try s.send(ServerPeer.frame(.windowUpdate, .syn, 1))
        // Our multistream header right away, its Data frame carrying the ACK.
        #expect(hello == [Frame(header: YamuxHeader(type: .data, flags: .ack, streamID: 1, length: 20),
                                payload: ServerPeer.msHeader)])
        let echo = try s.send(ServerPeer.frame(.data, [], 1, ServerPeer.msHeader + Multistream.encode("/ssh/open/1.0.0")))
        #expect(echo.map(\.payload) == [[0x10] + Array("/ssh/open/1.0.0\n".utf8)])
        #expect(echo[0].header.flags == [])
        #expect(s.takeActions().isEmpty)
        let ssh = Array("SSH-2.0-Go\r\n".utf8)
        let none = try s.send(ServerPeer.frame(.data, [], 1, Array("{\"id\":\"\(uid)\"}\n".utf8) + ssh))
        #expect(none.isEmpty)
        #expect(s.takeActions() == [.openSSH(slot: 0, sessionID: uid, initialBytes: ssh)])
        #expect(s.tunnel.slots.sessionID(of: 0) == uid)
        // Later bytes go to the slot; replies go out as Data frames on stream 1.
        _ = try s.send(ServerPeer.frame(.data, [], 1, [1, 2, 3]))
        #expect(s.takeActions() == [.data(slot: 0, [1, 2, 3])])
        #expect(s.tunnel.send(0, Array("SSH-2.0-tether\r\n".utf8)) == 16)
        #expect(s.output() == [Frame(header: YamuxHeader(type: .data, streamID: 1, length: 16), payload: Array("SSH-2.0-tether\r\n".utf8))])
    }

    @Test func pingsAnsweredAtOnce() throws {
        var s = ServerPeer(slots: 1)
        let out = try s.send(ServerPeer.frame(.ping, .syn, 0, length: 7))
        #expect(out.count == 1)
        var expected: [UInt8] = []
        YamuxHeader(type: .ping, flags: .ack, streamID: 0, length: 7).encode(into: &expected)
        #expect(expected == [0, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7])
        #expect(out[0].header == (try YamuxHeader.decode(expected)))
        #expect(s.takeActions() == [.serverPing])
    }

    @Test func fullSlotsRefuseWithRSTButCloseStillWorks() throws {
        var s = ServerPeer(slots: 2)
        _ = try s.open(1, "/ssh/open/1.0.0", header: "{\"id\":\"a\"}")
        _ = try s.open(3, "/ssh/open/1.0.0", header: "{\"id\":\"b\"}")
        #expect(s.takeActions() == [
            .openSSH(slot: 0, sessionID: "a", initialBytes: []), .openSSH(slot: 1, sessionID: "b", initialBytes: []),
        ])
        let refused = try s.open(5, "/ssh/open/1.0.0", header: "{\"id\":\"c\"}")
        #expect(refused.last?.header == YamuxHeader(type: .windowUpdate, flags: .rst, streamID: 5))
        #expect(s.takeActions() == [.refused(stream: 5, reason: .slotsFull)])
        // The user closes session "b" from the console: a close stream gets through.
        let close = try s.open(7, "/ssh/close/1.0.0", header: "{\"id\":\"b\"}")
        #expect(close.last?.header == YamuxHeader(type: .windowUpdate, flags: .fin, streamID: 7))
        #expect(s.takeActions() == [.closeSSH(slot: 1)])
        s.tunnel.localClosed(1, now: s.now)
        #expect(s.output() == [Frame(header: YamuxHeader(type: .windowUpdate, flags: .fin, streamID: 3), payload: [])])
        #expect(!s.tunnel.slots.isFull)
        _ = try s.open(9, "/ssh/open/1.0.0", header: "{\"id\":\"d\"}")
        #expect(s.takeActions() == [.openSSH(slot: 1, sessionID: "d", initialBytes: [])])
        // Closing an unknown session is logged and the stream closed.
        _ = try s.open(11, "/ssh/close/1.0.0", header: "{\"id\":\"zz\"}")
        #expect(s.takeActions() == [.unknownSession("zz")])
    }

    @Test func windowUpdatesAsDataIsConsumed() throws {
        var s = ServerPeer(slots: 1)
        _ = try s.open(1, "/ssh/open/1.0.0", header: "{\"id\":\"a\"}")
        _ = s.takeActions()
        var updates: [UInt32] = []
        var total = 0
        for _ in 0..<40 {
            // 16 KiB per frame: 640 KiB in all, far past the 256 KiB initial window.
            let out = try s.send(ServerPeer.frame(.data, [], 1, [UInt8](repeating: 7, count: 16 * 1024)))
            for case .data(let slot, let bytes) in s.takeActions() {
                total += bytes.count
                s.tunnel.consumed(slot, bytes.count)
            }
            updates += (out + s.output()).filter { $0.header.type == .windowUpdate }.map(\.header.length)
        }
        #expect(total == 640 * 1024)
        #expect(updates.reduce(0, +) >= 384 * 1024)
        #expect(updates.allSatisfy { $0 >= 128 * 1024 })
    }

    @Test func unconsumedDataExceedingWindowIsAProtocolError() throws {
        var s = ServerPeer(slots: 1)
        _ = try s.open(1, "/ssh/open/1.0.0", header: "{\"id\":\"a\"}")
        // The server may not send past the window we granted (negotiation bytes count too).
        #expect(throws: YamuxError.receiveWindowExceeded(stream: 1)) {
            for _ in 0..<17 { _ = try s.send(ServerPeer.frame(.data, [], 1, [UInt8](repeating: 0, count: 16 * 1024))) }
        }
    }

    @Test func proxyOkAndFailure() throws {
        var s = ServerPeer(slots: 2)
        _ = try s.open(1, "/http/proxy/1.0.0", header: #"{"id":"r1","host":"127.0.0.1","port":"8080"}"#)
        #expect(s.takeActions() == [.proxy(slot: 0, host: "127.0.0.1", port: 8080, initialBytes: [])])
        s.tunnel.proxyConnected(0)
        #expect(s.output().map(\.payload) == [Array("{\"status\":\"ok\"}\n".utf8)])
        _ = try s.open(3, "/http/proxy/1.0.0", header: #"{"id":"r2","host":"10.0.0.9","port":"22"}"#)
        _ = s.takeActions()
        s.tunnel.proxyFailed(1, message: "connection refused", now: s.now)
        let out = s.output()
        #expect(out.map(\.payload) == [Array("{\"error\":\"connection refused\"}\n".utf8), []])
        #expect(out.last?.header.flags == .fin)
        #expect(!s.tunnel.slots.isInUse(1))
        // A header without a usable port is answered with an error, no slot taken.
        _ = try s.open(5, "/http/proxy/1.0.0", header: #"{"id":"r3","host":"h","port":"http"}"#)
        #expect(s.takeActions() == [.refused(stream: 5, reason: .badHeader)])
        #expect(s.tunnel.slots.inUse == 1)
    }

    @Test func unknownProtocolGetsNaThenNext() throws {
        var s = ServerPeer(slots: 1)
        _ = try s.send(ServerPeer.frame(.windowUpdate, .syn, 1))
        let na = try s.send(ServerPeer.frame(.data, [], 1, ServerPeer.msHeader + Multistream.encode("/ssh/exec/9.9.9")))
        #expect(na.map(\.payload) == [[3] + Array("na\n".utf8)])
        _ = try s.send(ServerPeer.frame(.data, [], 1, Multistream.encode("/ssh/open/1.0.0") + Array("{\"id\":\"x\"}\n".utf8)))
        #expect(s.takeActions() == [.openSSH(slot: 0, sessionID: "x", initialBytes: [])])
    }

    @Test func garbageAndStallsResetTheStreamOnly() throws {
        var s = ServerPeer(slots: 1)
        _ = try s.send(ServerPeer.frame(.windowUpdate, .syn, 1))
        let bad = try s.send(ServerPeer.frame(.data, [], 1, Multistream.encode("/not/multistream")))
        #expect(bad.last?.header.flags == .rst)
        #expect(s.takeActions() == [.refused(stream: 1, reason: .negotiationFailed)])
        // A stream that stalls mid-negotiation is reset after the timeout.
        s.now = .s(100)
        _ = try s.send(ServerPeer.frame(.windowUpdate, .syn, 3))
        #expect(s.tunnel.nextDeadline == .s(160))
        s.tunnel.timerFired(now: .s(159))
        #expect(s.takeActions().isEmpty)
        s.tunnel.timerFired(now: .s(160))
        #expect(s.takeActions() == [.refused(stream: 3, reason: .negotiationTimeout)])
        #expect(s.output().last?.header == YamuxHeader(type: .windowUpdate, flags: .rst, streamID: 3))
        #expect(s.tunnel.nextDeadline == nil)
        #expect(s.tunnel.openStreamCount == 0)
    }

    /// A stream we half-closed holds one of yamux's stream places until the server's FIN: one
    /// that never comes must not hold it for ever (it did: no close timeout).
    @Test func halfClosedStreamIsResetWhenTheServerNeverCloses() throws {
        var s = ServerPeer(slots: 1)
        s.now = .s(10)
        _ = try s.open(1, "/ssh/open/1.0.0", header: "{\"id\":\"a\"}")
        _ = s.takeActions()
        _ = s.output()
        s.tunnel.localClosed(0, now: .s(20))
        #expect(s.output() == [Frame(header: YamuxHeader(type: .windowUpdate, flags: .fin, streamID: 1), payload: [])])
        #expect(s.tunnel.openStreamCount == 1)      // waiting for the server's FIN
        #expect(s.tunnel.nextDeadline == .s(20) + V2Tunnel.closeTimeout)
        s.tunnel.timerFired(now: .s(20) + V2Tunnel.closeTimeout - 1)
        #expect(s.takeActions().isEmpty)
        #expect(s.tunnel.openStreamCount == 1)
        s.tunnel.timerFired(now: .s(20) + V2Tunnel.closeTimeout)
        #expect(s.takeActions() == [.refused(stream: 1, reason: .closeTimeout)])
        #expect(s.output().last?.header == YamuxHeader(type: .windowUpdate, flags: .rst, streamID: 1))
        #expect(s.tunnel.openStreamCount == 0)
        #expect(s.tunnel.nextDeadline == nil)
    }

    @Test func halfClosedStreamTheServerClosesIsNotReset() throws {
        var s = ServerPeer(slots: 1)
        _ = try s.open(1, "/ssh/open/1.0.0", header: "{\"id\":\"a\"}")
        _ = s.takeActions()
        s.tunnel.localClosed(0, now: .s(5))
        _ = s.output()
        _ = try s.send(ServerPeer.frame(.windowUpdate, .fin, 1))
        #expect(s.tunnel.openStreamCount == 0)
        s.tunnel.timerFired(now: .s(5) + V2Tunnel.closeTimeout)
        #expect(s.takeActions().isEmpty)
        #expect(s.output().isEmpty)
        #expect(s.tunnel.nextDeadline == nil)
    }

    /// A SYN beyond yamux's stream limit (slots plus negotiating places, all taken) is reset by
    /// the session itself; the runtime hears of it now, for its burst-limited log.
    @Test func synOverTheStreamLimitIsReported() throws {
        var s = ServerPeer(slots: 1)
        _ = try s.open(1, "/ssh/open/1.0.0", header: "{\"id\":\"a\"}")
        _ = s.takeActions()
        for n in 1...V2Tunnel.maxNegotiatingStreams {
            _ = try s.send(ServerPeer.frame(.windowUpdate, .syn, UInt32(2 * n + 1)))
        }
        _ = s.takeActions()
        let out = try s.send(ServerPeer.frame(.windowUpdate, .syn, 99))
        #expect(out.last?.header == YamuxHeader(type: .windowUpdate, flags: .rst, streamID: 99))
        #expect(s.takeActions() == [.refused(stream: 99, reason: .tooManyStreams)])
    }

    @Test func floodOfStreamsStaysBounded() throws {
        var s = ServerPeer(slots: 2)
        var rsts = 0
        for n in 0..<100 {
            let out = try s.send(ServerPeer.frame(.windowUpdate, .syn, UInt32(2 * n + 1)))
            rsts += out.filter { $0.header.flags.contains(.rst) }.count
        }
        #expect(s.tunnel.negotiatingCount == V2Tunnel.maxNegotiatingStreams)
        #expect(rsts == 100 - V2Tunnel.maxNegotiatingStreams)
        #expect(s.tunnel.openStreamCount <= 2 + V2Tunnel.maxNegotiatingStreams)
    }

    @Test func serverResetAndFin() throws {
        var s = ServerPeer(slots: 1)
        _ = try s.open(1, "/ssh/open/1.0.0", header: "{\"id\":\"a\"}")
        _ = s.takeActions()
        _ = try s.send(ServerPeer.frame(.windowUpdate, .fin, 1))
        #expect(s.takeActions() == [.remoteClosed(slot: 0)])
        #expect(s.tunnel.slots.isInUse(0))
        s.tunnel.localClosed(0, now: s.now)
        #expect(!s.tunnel.slots.isInUse(0))
        #expect(s.tunnel.openStreamCount == 0)
        _ = try s.open(3, "/ssh/open/1.0.0", header: "{\"id\":\"b\"}")
        _ = s.takeActions()
        _ = try s.send(ServerPeer.frame(.windowUpdate, .rst, 3))
        #expect(s.takeActions() == [.reset(slot: 0)])
        #expect(s.tunnel.slots.inUse == 0)
        // Late data for a gone stream is dropped without an action.
        _ = try s.send(ServerPeer.frame(.data, [], 3, [1]))
        #expect(s.takeActions().isEmpty)
    }

    @Test func sendRespectsServerWindow() throws {
        var s = ServerPeer(slots: 1)
        _ = try s.open(1, "/ssh/open/1.0.0", header: "{\"id\":\"a\"}")
        _ = s.takeActions()
        let big = [UInt8](repeating: 1, count: 300 * 1024)
        // 256 KiB less the 37 bytes of our multistream messages.
        #expect(s.tunnel.sendWindow(0) == 256 * 1024 - 37)
        #expect(s.tunnel.send(0, big) == 256 * 1024 - 37)
        #expect(s.tunnel.send(0, big) == 0)
        _ = try s.send(ServerPeer.frame(.windowUpdate, [], 1, length: 64 * 1024))
        #expect(s.takeActions() == [.canSend(slot: 0)])
        #expect(s.tunnel.sendWindow(0) == 64 * 1024)
    }

    @Test func agentPingWhenAsked() {
        var t = V2Tunnel(sessionSlots: 1)
        t.ping()
        t.ping()
        let frames = ServerPeer.parse(t.takeOutput())
        #expect(frames.map(\.header) == [
            YamuxHeader(type: .ping, flags: .syn, length: 1), YamuxHeader(type: .ping, flags: .syn, length: 2),
        ])
    }
}
