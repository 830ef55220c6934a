/// Frame opcodes of RFC 6455 section 5.2. Reserved values (3-7, B-F) have no case: the decoder
/// rejects them as a protocol error.
public enum WebSocketOpcode: UInt8, Equatable, Sendable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Control frames (close, ping, pong) have opcodes with the high bit set (section 5.5).
    public var isControl: Bool { rawValue & 0x8 != 0 }
}
