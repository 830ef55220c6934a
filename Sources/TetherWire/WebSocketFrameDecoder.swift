/// What the decoder produces from server bytes.
public enum WebSocketEvent: Equatable, Sendable {
    /// A whole text message (message mode), already checked to be UTF-8.
    case text([UInt8])
    /// A whole binary message (message mode).
    case binary([UInt8])
    /// Payload bytes of binary frames as they arrive (stream mode): boundaries carry no meaning.
    case data([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    /// The peer's close frame: status code (nil when the payload was empty) and UTF-8 reason.
    case close(code: UInt16?, reason: [UInt8])
}

/// How data frames are delivered.
public enum WebSocketDeliveryMode: Equatable, Sendable {
    /// Reassemble fragments and deliver whole text/binary messages (`.text`, `.binary`).
    case message
    /// Deliver binary payload bytes as soon as they arrive (`.data`); text is an error. This is
    /// how ShellHub uses its tunnel WebSockets (PROTOCOL.md 5.1).
    case stream
}

/// Incremental decoder of server-to-client frames (RFC 6455 section 5), sans-I/O.
///
/// Feed it bytes in any pieces with `feed`, then call `next()` until it returns nil (needs more
/// bytes). It checks every framing rule a client must enforce, validates text incrementally
/// across fragments (failing at the first impossible byte), and refuses frames and messages
/// over the limits from their headers, before buffering them. After an error it keeps throwing
/// the same error; after a close frame it ignores further input (section 5.5.1).
public struct WebSocketFrameDecoder {
    public let mode: WebSocketDeliveryMode
    public let limits: WebSocketLimits

    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// A data frame's header was read and `remaining` payload bytes are still to come.
    private var inPayload = false
    private var frameFin = false
    private var remaining = 0
    /// Opcode of the data message in progress (text or binary), nil between messages.
    private var messageOpcode: WebSocketOpcode?
    private var message: [UInt8] = []
    private var utf8 = UTF8Validator()
    private var failure: WebSocketError?
    private var closeReceived = false

    /// Bytes kept before compacting the input buffer; amortises the copy.
    private static let compactThreshold = 4096

    public init(mode: WebSocketDeliveryMode = .message, limits: WebSocketLimits = .agentDefault) {
        self.mode = mode
        self.limits = limits
    }

    /// Input bytes received but not yet decoded.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// True once a close frame was decoded.
    public var isClosed: Bool { closeReceived }

    /// Appends received bytes.
    public mutating func feed<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if closeReceived || failure != nil { return }
        ByteBuffer.compact(&buffer, consumed: &readIndex, threshold: WebSocketFrameDecoder.compactThreshold)
        buffer.append(contentsOf: bytes)
    }

    /// The next event, or nil when more input is needed.
    public mutating func next() throws(WebSocketError) -> WebSocketEvent? {
        if let failure { throw failure }
        if closeReceived { return nil }
        do throws(WebSocketError) {
            return try step()
        } catch {
            failure = error
            buffer = []
            message = []
            throw error
        }
    }

    private mutating func step() throws(WebSocketError) -> WebSocketEvent? {
        while true {
            if !inPayload {
                guard let header = try readHeader() else { return nil }
                if header.opcode.isControl {
                    return try controlEvent(header)
                }
                if header.opcode != .continuation {
                    messageOpcode = header.opcode
                    utf8.reset()
                    message.removeAll(keepingCapacity: true)
                }
                frameFin = header.fin
                remaining = header.length
                inPayload = true
            }
            let take = min(remaining, buffer.count - readIndex)
            if take == 0 && remaining > 0 { return nil }
            let range = readIndex..<(readIndex + take)
            readIndex += take
            remaining -= take
            let isText = messageOpcode == .text
            if isText && take > 0 {
                let ok = buffer.withUnsafeBytes { utf8.feed(buffer: UnsafeRawBufferPointer(rebasing: $0[range])) }
                if !ok { throw .invalidUTF8 }
            }
            let frameDone = remaining == 0
            let messageDone = frameDone && frameFin
            if frameDone { inPayload = false }
            if isText && messageDone && !utf8.isComplete { throw .invalidUTF8 }
            if mode == .stream {
                if messageDone { messageOpcode = nil }
                if take > 0 { return .data(Array(buffer[range])) }
                continue
            }
            message.append(contentsOf: buffer[range])
            if messageDone {
                let whole = message
                message = []
                messageOpcode = nil
                return isText ? .text(whole) : .binary(whole)
            }
        }
    }

    private struct Header {
        var fin: Bool
        var opcode: WebSocketOpcode
        var length: Int
    }

    /// Parses and checks one frame header; consumes it only when complete. Every check that can
    /// be made from the first two bytes is made before waiting for the rest (fail fast).
    private mutating func readHeader() throws(WebSocketError) -> Header? {
        let available = buffer.count - readIndex
        guard available >= 2 else { return nil }
        let b0 = buffer[readIndex]
        let b1 = buffer[readIndex + 1]
        if b0 & 0x70 != 0 { throw .reservedBitsSet }
        guard let opcode = WebSocketOpcode(rawValue: b0 & 0x0F) else {
            throw .reservedOpcode(b0 & 0x0F)
        }
        if b1 & 0x80 != 0 { throw .maskedServerFrame }
        let fin = b0 & 0x80 != 0
        let len7 = Int(b1 & 0x7F)
        if opcode.isControl {
            if !fin { throw .fragmentedControlFrame }
            if len7 > WebSocketLimits.maxControlPayload { throw .controlFrameTooLong }
        } else {
            if opcode == .continuation && messageOpcode == nil { throw .unexpectedContinuation }
            if opcode != .continuation && messageOpcode != nil { throw .expectedContinuation }
            if opcode == .text && mode == .stream { throw .textInStreamMode }
        }
        var headerSize = 2
        var length = len7
        if len7 == 126 {
            headerSize = 4
            guard available >= headerSize else { return nil }
            length = Int(buffer[readIndex + 2]) << 8 | Int(buffer[readIndex + 3])
            if length < 126 { throw .nonMinimalLength }
        } else if len7 == 127 {
            headerSize = 10
            guard available >= headerSize else { return nil }
            var l: UInt64 = 0
            for i in 2..<10 { l = l << 8 | UInt64(buffer[readIndex + i]) }
            if l & (1 << 63) != 0 { throw .lengthHighBitSet }
            if l <= 0xFFFF { throw .nonMinimalLength }
            if l > UInt64(limits.maxFrameSize) { throw .frameTooLarge }
            length = Int(l)
        }
        if length > limits.maxFrameSize { throw .frameTooLarge }
        if !opcode.isControl && mode == .message && message.count + length > limits.maxMessageSize {
            throw .messageTooLarge
        }
        if opcode.isControl && available < headerSize + length { return nil }
        readIndex += headerSize
        return Header(fin: fin, opcode: opcode, length: length)
    }

    /// Builds the event of a complete control frame whose payload follows at `readIndex`.
    private mutating func controlEvent(_ header: Header) throws(WebSocketError) -> WebSocketEvent {
        let payload = Array(buffer[readIndex..<(readIndex + header.length)])
        readIndex += header.length
        switch header.opcode {
        case .ping: return .ping(payload)
        case .pong: return .pong(payload)
        default: break
        }
        if payload.isEmpty {
            closeReceived = true
            return .close(code: nil, reason: [])
        }
        if payload.count == 1 { throw .closePayloadTooShort }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        if !WebSocketCloseCode.isValidOnWire(code) { throw .invalidCloseCode(code) }
        let reason = Array(payload[2...])
        var check = UTF8Validator()
        if !check.feed(reason) || !check.isComplete { throw .invalidCloseReason }
        closeReceived = true
        return .close(code: code, reason: reason)
    }
}
