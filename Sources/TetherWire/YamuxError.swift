/// Session-fatal yamux protocol errors (the names follow hashicorp's `Err*` values). After one is
/// thrown the session is dead: write any pending output (a GoAway where hashicorp sends one),
/// then close the connection.
public enum YamuxError: Error, Equatable {
    /// Header version byte is not 0.
    case unsupportedVersion(UInt8)
    /// Header type byte is not 0...3.
    case invalidFrameType(UInt8)
    /// The peer opened an even (or zero) stream id: both ends think they are the client.
    case streamIDParity(UInt32)
    /// The peer opened a stream id that is still open.
    case duplicateStream(UInt32)
    /// The peer sent more Data than the stream's receive window allows.
    case receiveWindowExceeded(stream: UInt32)
    /// FIN on a stream the peer had already closed.
    case unexpectedFlag(stream: UInt32)
    /// The peer sent GoAway with a protocol or internal error code (or an unknown code).
    case remoteGoAway(code: UInt32)
}

/// Misuse of the session API by the caller (not fatal to the session).
public enum YamuxStreamError: Error, Equatable {
    /// No open stream has this id.
    case unknownStream(UInt32)
    /// The stream was closed for writing (local FIN sent).
    case notWritable(UInt32)
}
