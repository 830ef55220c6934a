/// Why a WebSocket connection must be failed (RFC 6455 section 7.1.7). Each case names the rule
/// that the peer broke; `closeCode` is the status code to send in the closing frame and
/// `rule` a short text for a log line.
public enum WebSocketError: Error, Equatable {
    /// RSV1-3 set although no extension was negotiated (section 5.2).
    case reservedBitsSet
    /// Opcode 3-7 or B-F (section 5.2).
    case reservedOpcode(UInt8)
    /// A server frame had the mask bit set (section 5.1).
    case maskedServerFrame
    /// Length written with more bytes than needed (section 5.2).
    case nonMinimalLength
    /// 64-bit length with its most significant bit set (section 5.2).
    case lengthHighBitSet
    /// Control frame payload over 125 bytes (section 5.5).
    case controlFrameTooLong
    /// Control frame without FIN (section 5.5).
    case fragmentedControlFrame
    /// Continuation frame with no message in progress (section 5.4).
    case unexpectedContinuation
    /// New text/binary frame while a fragmented message is unfinished (section 5.4).
    case expectedContinuation
    /// Text message or close reason that is not UTF-8 (section 8.1).
    case invalidUTF8
    /// Close reason that is not UTF-8 (section 5.5.1).
    case invalidCloseReason
    /// Close frame with a one-byte payload (section 5.5.1).
    case closePayloadTooShort
    /// Close status code not allowed on the wire (section 7.4).
    case invalidCloseCode(UInt16)
    /// Frame payload over `WebSocketLimits.maxFrameSize`.
    case frameTooLarge
    /// Message over `WebSocketLimits.maxMessageSize`.
    case messageTooLarge
    /// Text data on a connection used as a byte stream (ShellHub PROTOCOL.md 5.1).
    case textInStreamMode

    /// Status code for the close frame that fails the connection (section 7.4.1).
    public var closeCode: UInt16 {
        switch self {
        case .invalidUTF8, .invalidCloseReason: return WebSocketCloseCode.invalidPayload
        case .frameTooLarge, .messageTooLarge: return WebSocketCloseCode.messageTooBig
        case .textInStreamMode: return WebSocketCloseCode.unsupportedData
        default: return WebSocketCloseCode.protocolError
        }
    }

    /// One short line naming the broken rule, for an 80-column console.
    public var rule: String {
        switch self {
        case .reservedBitsSet: return "RFC 6455 5.2: reserved bits set"
        case .reservedOpcode(let op): return "RFC 6455 5.2: reserved opcode " + String(op)
        case .maskedServerFrame: return "RFC 6455 5.1: server frame is masked"
        case .nonMinimalLength: return "RFC 6455 5.2: non-minimal payload length"
        case .lengthHighBitSet: return "RFC 6455 5.2: 64-bit length with MSB set"
        case .controlFrameTooLong: return "RFC 6455 5.5: control frame over 125 bytes"
        case .fragmentedControlFrame: return "RFC 6455 5.5: fragmented control frame"
        case .unexpectedContinuation: return "RFC 6455 5.4: continuation without start"
        case .expectedContinuation: return "RFC 6455 5.4: new message inside fragments"
        case .invalidUTF8: return "RFC 6455 8.1: text is not valid UTF-8"
        case .invalidCloseReason: return "RFC 6455 5.5.1: close reason is not UTF-8"
        case .closePayloadTooShort: return "RFC 6455 5.5.1: close payload of 1 byte"
        case .invalidCloseCode(let c): return "RFC 6455 7.4: invalid close code " + String(c)
        case .frameTooLarge: return "RFC 6455 7.4.1: frame over size limit (1009)"
        case .messageTooLarge: return "RFC 6455 7.4.1: message over size limit (1009)"
        case .textInStreamMode: return "PROTOCOL 5.1: text frame on a binary stream"
        }
    }
}

/// Close status codes of RFC 6455 section 7.4 and the rule for which may appear on the wire.
public enum WebSocketCloseCode {
    public static let normal: UInt16 = 1000
    public static let goingAway: UInt16 = 1001
    public static let protocolError: UInt16 = 1002
    public static let unsupportedData: UInt16 = 1003
    public static let invalidPayload: UInt16 = 1007
    public static let policyViolation: UInt16 = 1008
    public static let messageTooBig: UInt16 = 1009
    public static let internalError: UInt16 = 1011

    /// True for codes a peer may send (section 7.4.1/7.4.2 and the IANA registry): 1000-1003,
    /// 1007-1014, 3000-4999. 1004 is reserved; 1005, 1006 and 1015 must never be sent.
    public static func isValidOnWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }
}
