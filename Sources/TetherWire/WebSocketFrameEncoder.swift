/// Writes masked client frames (RFC 6455 section 5.2). Stateless: each call appends one frame to
/// an output buffer, taking a fresh key from the caller's `WebSocketMaskSource`.
public enum WebSocketFrameEncoder {
    /// Largest frame header: 2 bytes, 8-byte extended length, 4-byte mask key.
    public static let maxHeaderSize = 14

    /// Appends one masked frame carrying `payload` to `out`.
    public static func appendFrame<C: Collection, S: WebSocketMaskSource>(
        opcode: WebSocketOpcode, fin: Bool = true, payload: C, maskSource: inout S,
        to out: inout [UInt8]
    ) where C.Element == UInt8 {
        let length = payload.count
        out.reserveCapacity(out.count + maxHeaderSize + length)
        out.append((fin ? 0x80 : 0) | opcode.rawValue)
        if length < 126 {
            out.append(0x80 | UInt8(length))
        } else if length <= 0xFFFF {
            out.append(0x80 | 126)
            out.append(UInt8(truncatingIfNeeded: length >> 8))
            out.append(UInt8(truncatingIfNeeded: length))
        } else {
            out.append(0x80 | 127)
            let l = UInt64(length)
            var shift: UInt64 = 56
            for _ in 0..<8 {
                out.append(UInt8(truncatingIfNeeded: l >> shift))
                shift &-= 8
            }
        }
        let key = maskSource.nextMaskKey()
        out.append(UInt8(truncatingIfNeeded: key >> 24))
        out.append(UInt8(truncatingIfNeeded: key >> 16))
        out.append(UInt8(truncatingIfNeeded: key >> 8))
        out.append(UInt8(truncatingIfNeeded: key))
        let start = out.count
        out.append(contentsOf: payload)
        WebSocketMask.apply(key: key, to: &out, range: start..<out.count)
    }

    /// Appends a close frame: empty when `code` is nil, otherwise the code and a reason cut to
    /// fit the 125-byte control payload (cut on a UTF-8 boundary).
    public static func appendClose<S: WebSocketMaskSource>(
        code: UInt16?, reason: [UInt8] = [], maskSource: inout S, to out: inout [UInt8]
    ) {
        var payload: [UInt8] = []
        if let code {
            payload.append(UInt8(truncatingIfNeeded: code >> 8))
            payload.append(UInt8(truncatingIfNeeded: code))
            var cut = min(reason.count, WebSocketLimits.maxControlPayload - 2)
            // Back off continuation bytes so a cut never splits a UTF-8 sequence.
            while cut > 0 && cut < reason.count && reason[cut] & 0xC0 == 0x80 { cut -= 1 }
            payload.append(contentsOf: reason[0..<cut])
        }
        appendFrame(opcode: .close, payload: payload, maskSource: &maskSource, to: &out)
    }
}
