import Foundation
import Testing
import CShims
import TetherWire
@testable import TetherPlatform

/// The server end of one WebSocket on the test's loop: answers the upgrade (RFC 6455 accept
/// value), then collects the client's frames, unmasked, as one byte stream of payloads.
final class UpgradePeer: IOHandler {
    let listenFd: Int32
    let port: UInt16
    var client: Int32 = -1
    var raw: [UInt8] = []
    var upgraded = false
    var payload: [UInt8] = []
    var frames = 0

    init(loop: EventLoop) throws {
        let l = listenLoopback()
        listenFd = l.fd
        port = l.port
        // A small receive window (inherited by the accepted socket): while the peer does not
        // read, the client's kernel soon takes no more.
        _ = tether_setsockopt_int(listenFd, SOL_SOCKET, SO_RCVBUF, 4096)
        _ = tether_set_nonblocking(listenFd)
        try loop.register(fd: listenFd, interest: .readable, handler: self)
    }

    /// Stops or resumes reading the client.
    func reading(_ on: Bool, _ loop: EventLoop) {
        try? loop.setInterest(fd: client, on ? .readable : [])
    }

    func stop(_ loop: EventLoop) {
        for fd in [client, listenFd] where fd >= 0 { loop.unregister(fd: fd); close(fd) }
    }

    func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        if fd == listenFd {
            client = accept(listenFd, nil, nil)
            if client >= 0 {
                _ = tether_set_nonblocking(client)
                try? loop.register(fd: client, interest: .readable, handler: self)
            }
            return
        }
        var buf = [UInt8](repeating: 0, count: 65536)
        while case .bytes(let n) = buf.withUnsafeMutableBytes({ Socket.read(fd, into: $0) }) {
            raw += buf[0..<n]
        }
        if !upgraded { answerUpgrade() }
        if upgraded { parseFrames() }
    }

    private func answerUpgrade() {
        let text = String(decoding: raw, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return }
        let head = text[..<end.lowerBound]
        guard let line = head.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("sec-websocket-key:") })
        else { return }
        let key = line.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)
        let accept = String(decoding: Base64.encode(SHA1.hash(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))),
                            as: UTF8.self)
        let answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: " + accept + "\r\n\r\n"
        _ = Socket.write(client, Array(answer.utf8))
        raw.removeFirst(text.utf8.distance(from: text.utf8.startIndex, to: end.upperBound.samePosition(in: text.utf8)!))
        upgraded = true
    }

    /// Client frames: FIN/opcode byte, masked length (7, 16 or 64 bit), 4-byte mask, payload.
    private func parseFrames() {
        while raw.count >= 2 {
            var len = Int(raw[1] & 0x7f)
            var at = 2
            if len == 126 {
                guard raw.count >= 4 else { return }
                len = Int(raw[2]) << 8 | Int(raw[3])
                at = 4
            } else if len == 127 {
                guard raw.count >= 10 else { return }
                len = raw[2..<10].reduce(0) { $0 << 8 | Int($1) }
                at = 10
            }
            guard raw.count >= at + 4 + len else { return }
            let mask = Array(raw[at..<(at + 4)])
            let opcode = raw[0] & 0x0f
            if opcode == 2 || opcode == 0 {
                for i in 0..<len { payload.append(raw[at + 4 + i] ^ mask[i % 4]) }
                frames += 1
            }
            raw.removeFirst(at + 4 + len)
        }
    }
}

final class RecordingWebSocket: WebSocketLinkDelegate {
    var opened = false
    var drained = 0
    var ended: LinkEnd?
    func linkOpened(_ link: WebSocketLink) { opened = true }
    func link(_ link: WebSocketLink, received bytes: [UInt8]) {}
    func linkPinged(_ link: WebSocketLink) {}
    func linkPonged(_ link: WebSocketLink) {}
    func linkDrained(_ link: WebSocketLink) { drained += 1 }
    func linkEnded(_ link: WebSocketLink, _ end: LinkEnd) { ended = end }
}

@Suite(.serialized) struct WebSocketLinkTests {
    /// Issue 13 item 3: a frame larger than the link's whole send queue used to wait in
    /// `stalled` for ever (sent all or nothing), while `send` said yes. It goes out in pieces,
    /// in order, with the frames queued after it, and the drained notice follows.
    @Test func frameLargerThanTheSendQueueGoesOut() throws {
        let loop = EventLoop()
        let peer = try UpgradePeer(loop: loop)
        defer { peer.stop(loop) }
        let d = RecordingWebSocket()
        var options = LinkOptions(host: "127.0.0.1", port: peer.port)
        options.outputCapacity = 4096
        let ws = WebSocketLink(loop: loop, resolver: nil, options: options, hostHeader: "127.0.0.1",
                               target: "/ssh/connection", bearer: nil, tcpKeepaliveSeconds: 0,
                               label: "test", delegate: d)
        ws.start()
        spin(loop) { d.opened }
        #expect(d.opened)
        peer.reading(false, loop)
        // A small kernel send buffer too, so that the link's own queue fills.
        _ = tether_setsockopt_int(ws.connection.fd, SOL_SOCKET, SO_SNDBUF, 4096)
        let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let small = Array("after".utf8)
        #expect(ws.send(big) == false)  // waits in part for room
        #expect(ws.sendCapacity == 0)
        _ = ws.send(small)
        spin(loop, ms: 300) { false }
        peer.reading(true, loop)
        spin(loop) { peer.payload.count >= big.count + small.count }
        #expect(peer.payload.count == big.count + small.count)
        let inOrder = peer.payload == big + small
        #expect(inOrder)
        #expect(peer.frames >= 2)
        spin(loop, ms: 1000) { d.drained > 0 }
        #expect(d.drained >= 1)
        #expect(ws.sendCapacity > 0)
        #expect(d.ended == nil)
        #expect(ws.send(small) == true)  // room again: queued whole
        ws.close()
    }
}
