/// The client side of one WebSocket connection after the handshake: decoder, encoder and the
/// close handshake of RFC 6455 section 7, sans-I/O.
///
/// Bytes from the socket go in with `receive`; events come out of `nextEvent`; everything to
/// send accumulates in `pendingOutbound`, which the I/O layer writes and then drops with
/// `consumeOutbound` (or takes whole with `takeOutbound`). Pings are answered and a peer's close is echoed automatically; a protocol
/// error queues the failing close frame (with the error's status code) before it is thrown.
public struct WebSocketClient<Source: WebSocketMaskSource> {
    /// Progress of the closing handshake.
    public enum CloseState: Equatable {
        /// Data flows both ways.
        case open
        /// This side sent a close and waits for the peer's.
        case closeSent
        /// Both closes are exchanged or the connection failed: only flushing `outbound` and
        /// closing TCP remain (section 7.1.1: the server closes TCP first).
        case closed
    }

    public private(set) var decoder: WebSocketFrameDecoder
    public var maskSource: Source
    public private(set) var closeState: CloseState = .open
    /// Encoded frames; bytes before `outboundStart` are already written.
    private var outbound: [UInt8] = []
    private var outboundStart = 0
    /// Written bytes kept before compacting `outbound`; amortises the copy of partial writes.
    private static var compactThreshold: Int { 65536 }

    /// `leftover` are the bytes the handshake read past the response head.
    public init(mode: WebSocketDeliveryMode = .message, limits: WebSocketLimits = .agentDefault,
                maskSource: Source, leftover: [UInt8] = []) {
        decoder = WebSocketFrameDecoder(mode: mode, limits: limits)
        self.maskSource = maskSource
        decoder.feed(leftover)
    }

    public var limits: WebSocketLimits { decoder.limits }

    /// Hands received bytes to the decoder.
    public mutating func receive<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        decoder.feed(bytes)
    }

    /// The next event, or nil when more input is needed or the connection is closed.
    /// A thrown error means the connection failed; the close frame is already in `outbound`.
    public mutating func nextEvent() throws(WebSocketError) -> WebSocketEvent? {
        if closeState == .closed { return nil }
        let event: WebSocketEvent?
        do throws(WebSocketError) {
            event = try decoder.next()
        } catch {
            if closeState == .open {
                WebSocketFrameEncoder.appendClose(
                    code: error.closeCode, maskSource: &maskSource, to: &outbound)
            }
            closeState = .closed
            throw error
        }
        switch event {
        case .ping(let payload):
            if closeState == .open {
                WebSocketFrameEncoder.appendFrame(
                    opcode: .pong, payload: payload, maskSource: &maskSource, to: &outbound)
            }
        case .close(let code, _):
            if closeState == .open {
                // Echo the peer's code (section 5.5.1); an empty close is answered with 1000.
                WebSocketFrameEncoder.appendClose(
                    code: code ?? WebSocketCloseCode.normal, maskSource: &maskSource,
                    to: &outbound)
            }
            closeState = .closed
        default:
            break
        }
        return event
    }

    /// Queues a text message, fragmented at `limits.maxOutgoingFrameSize`. False once closing.
    @discardableResult
    public mutating func sendText<C: Collection>(_ payload: C) -> Bool where C.Element == UInt8 {
        sendData(.text, payload)
    }

    /// Queues binary data, fragmented at `limits.maxOutgoingFrameSize`. In stream mode this is
    /// the write side of the byte stream: any chunk, no meaning in its boundaries.
    @discardableResult
    public mutating func sendBinary<C: Collection>(_ payload: C) -> Bool where C.Element == UInt8 {
        sendData(.binary, payload)
    }

    /// Queues a ping (payload cut to 125 bytes).
    @discardableResult
    public mutating func sendPing(_ payload: [UInt8] = []) -> Bool {
        guard closeState == .open else { return false }
        let cut = payload.prefix(WebSocketLimits.maxControlPayload)
        WebSocketFrameEncoder.appendFrame(
            opcode: .ping, payload: cut, maskSource: &maskSource, to: &outbound)
        return true
    }

    /// Queues an unsolicited pong, which RFC 6455 5.5.3 allows as a one-way heartbeat.
    @discardableResult
    public mutating func sendPong(_ payload: [UInt8] = []) -> Bool {
        guard closeState == .open else { return false }
        let cut = payload.prefix(WebSocketLimits.maxControlPayload)
        WebSocketFrameEncoder.appendFrame(
            opcode: .pong, payload: cut, maskSource: &maskSource, to: &outbound)
        return true
    }

    /// Starts the closing handshake. Sends one close frame at most; later calls do nothing.
    public mutating func close(code: UInt16 = WebSocketCloseCode.normal, reason: [UInt8] = []) {
        guard closeState == .open else { return }
        WebSocketFrameEncoder.appendClose(
            code: code, reason: reason, maskSource: &maskSource, to: &outbound)
        closeState = .closeSent
    }

    /// Encoded bytes not yet written to the socket, in order.
    public var pendingOutbound: ArraySlice<UInt8> { outbound[outboundStart...] }

    /// True when there is something to write.
    public var hasPendingOutbound: Bool { outboundStart < outbound.count }

    /// Drops the first `count` pending bytes after the I/O layer wrote them. Partial writes
    /// cost no copy until enough written bytes pile up.
    public mutating func consumeOutbound(_ count: Int) {
        outboundStart = min(outbound.count, outboundStart + max(0, count))
        ByteBuffer.compact(&outbound, consumed: &outboundStart, threshold: WebSocketClient.compactThreshold)
    }

    /// Takes all pending bytes at once.
    public mutating func takeOutbound() -> [UInt8] {
        let out = outboundStart == 0 ? outbound : Array(outbound[outboundStart...])
        outbound = []
        outboundStart = 0
        return out
    }

    private mutating func sendData<C: Collection>(_ opcode: WebSocketOpcode, _ payload: C) -> Bool
    where C.Element == UInt8 {
        guard closeState == .open else { return false }
        let step = max(1, limits.maxOutgoingFrameSize)
        var start = payload.startIndex
        var first = true
        repeat {
            let end = payload.index(start, offsetBy: step, limitedBy: payload.endIndex)
                ?? payload.endIndex
            WebSocketFrameEncoder.appendFrame(
                opcode: first ? opcode : .continuation, fin: end == payload.endIndex,
                payload: payload[start..<end], maskSource: &maskSource, to: &outbound)
            first = false
            start = end
        } while start != payload.endIndex
        return true
    }
}
