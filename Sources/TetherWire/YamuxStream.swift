/// Life of one stream from the listener's point of view (the peer always opens).
public enum YamuxStreamState: Equatable {
    /// The peer sent SYN; the caller has not yet accepted (ACK) it.
    case synReceived
    /// Open both ways.
    case established
    /// We sent FIN; the peer may still send.
    case localClosed
    /// The peer sent FIN; we may still send.
    case remoteClosed
}

/// Bookkeeping for one open stream: state and both flow-control windows.
struct YamuxStream {
    let id: UInt32
    /// Never `.synReceived`: whether we acknowledged is tracked apart, because the peer may
    /// half-close before we accept.
    var state: YamuxStreamState = .established
    /// Whether our ACK has gone out (WindowUpdate ACK, or the flag on our first frame).
    var acknowledged = false
    /// Bytes the peer may still send before we grant more.
    var receiveWindow: UInt32
    /// Bytes the caller consumed that have not yet been granted back to the peer.
    var consumedUngranted: UInt32 = 0
    /// Bytes we may still send before the peer grants more.
    var sendWindow: UInt32

    init(id: UInt32, window: UInt32) {
        self.id = id
        self.receiveWindow = window
        self.sendWindow = window
    }

    var canSend: Bool { state != .localClosed }

    var publicState: YamuxStreamState {
        state == .established && !acknowledged ? .synReceived : state
    }

    /// The ACK flag if this frame is our first on the stream.
    mutating func takeAckFlag() -> YamuxFlags {
        if acknowledged { return [] }
        acknowledged = true
        return .ack
    }
}
