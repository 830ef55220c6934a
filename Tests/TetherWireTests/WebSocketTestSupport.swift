@testable import TetherWire

/// Mask keys from a fixed list (cycled), so encoded frames are reproducible.
struct WebSocketFixedMasks: WebSocketMaskSource {
    var keys: [UInt32]
    var index = 0
    init(_ keys: [UInt32]) { self.keys = keys }
    mutating func nextMaskKey() -> UInt32 {
        defer { index += 1 }
        return keys[index % keys.count]
    }
}

/// A client frame as the server sees it, unmasked.
struct WebSocketTestFrame: Equatable {
    var fin: Bool
    var opcode: UInt8
    var key: UInt32
    var payload: [UInt8]
}

/// Parses masked client frames (what a server would do) to check the encoder's output.
func webSocketParseClientFrames(_ bytes: [UInt8]) -> [WebSocketTestFrame]? {
    var out: [WebSocketTestFrame] = []
    var i = 0
    while i < bytes.count {
        guard i + 2 <= bytes.count, bytes[i + 1] & 0x80 != 0 else { return nil }
        var len = Int(bytes[i + 1] & 0x7F)
        var p = i + 2
        if len == 126 {
            len = Int(bytes[p]) << 8 | Int(bytes[p + 1]); p += 2
        } else if len == 127 {
            len = 0
            for k in 0..<8 { len = len << 8 | Int(bytes[p + k]) }
            p += 8
        }
        let key = UInt32(bytes[p]) << 24 | UInt32(bytes[p + 1]) << 16 | UInt32(bytes[p + 2]) << 8
            | UInt32(bytes[p + 3])
        p += 4
        guard p + len <= bytes.count else { return nil }
        var payload = Array(bytes[p..<(p + len)])
        for k in 0..<payload.count { payload[k] ^= UInt8(truncatingIfNeeded: key >> UInt32(24 - (k % 4) * 8)) }
        out.append(WebSocketTestFrame(fin: bytes[i] & 0x80 != 0, opcode: bytes[i] & 0x0F, key: key,
                                      payload: payload))
        i = p + len
    }
    return out
}

/// Server frame bytes (unmasked), as the conformance server writes them.
func webSocketServerFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0)
    -> [UInt8]
{
    var f: [UInt8] = [(fin ? 0x80 : 0) | rsv << 4 | opcode]
    if payload.count < 126 {
        f.append(UInt8(payload.count))
    } else if payload.count <= 0xFFFF {
        f += [126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    } else {
        f.append(127)
        for k in (0..<8).reversed() { f.append(UInt8(truncatingIfNeeded: payload.count >> (8 * k))) }
    }
    return f + payload
}

/// Decodes all events from `bytes`, or the error that stopped decoding.
func webSocketDecodeAll(_ bytes: [UInt8], mode: WebSocketDeliveryMode = .message,
                        limits: WebSocketLimits = .agentDefault, chunk: Int = Int.max)
    -> (events: [WebSocketEvent], error: WebSocketError?)
{
    var d = WebSocketFrameDecoder(mode: mode, limits: limits)
    var events: [WebSocketEvent] = []
    var i = 0
    repeat {
        let end = min(bytes.count, i + min(chunk, bytes.count - i))
        d.feed(bytes[i..<end])
        i = end
        do {
            while let e = try d.next() { events.append(e) }
        } catch {
            return (events, error)
        }
    } while i < bytes.count
    return (events, nil)
}
