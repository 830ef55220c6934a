/// Size limits of the WebSocket codec. Inputs beyond them are refused with a typed error before
/// any buffer for them is allocated.
public struct WebSocketLimits: Equatable, Sendable {
    /// Largest payload of one incoming frame.
    public var maxFrameSize: Int
    /// Largest reassembled incoming message (message mode only; stream mode never reassembles).
    public var maxMessageSize: Int
    /// Largest payload this side puts in one outgoing frame; bigger writes are fragmented.
    public var maxOutgoingFrameSize: Int
    /// Largest handshake response head (status line and headers).
    public var maxHandshakeHeadSize: Int

    /// Largest payload of a control frame (RFC 6455 section 5.5).
    public static let maxControlPayload = 125

    /// Defaults sized for the agent: ShellHub's server writes small frames (its upgrader's
    /// buffers are 1 KiB), so 1 MiB leaves ample room and bounds memory on a board.
    public static let agentDefault = WebSocketLimits(
        maxFrameSize: 1 << 20, maxMessageSize: 1 << 20, maxOutgoingFrameSize: 1 << 16,
        maxHandshakeHeadSize: 8192)

    public init(maxFrameSize: Int, maxMessageSize: Int, maxOutgoingFrameSize: Int,
                maxHandshakeHeadSize: Int) {
        self.maxFrameSize = maxFrameSize
        self.maxMessageSize = maxMessageSize
        self.maxOutgoingFrameSize = maxOutgoingFrameSize
        self.maxHandshakeHeadSize = maxHandshakeHeadSize
    }
}
