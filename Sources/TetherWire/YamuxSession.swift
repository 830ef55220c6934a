/// Limits of a listener session.
public struct YamuxConfig {
    /// Initial and maximum receive window per stream. hashicorp's default and ShellHub's
    /// setting are both 256 KiB; the peer assumes 256 KiB until told otherwise, so this must not
    /// be smaller.
    public var maxStreamWindow: UInt32
    /// Streams open at once; a SYN beyond this is refused with RST (hashicorp's "backlog
    /// exceeded"), so the table never grows without bound.
    public var maxStreams: Int

    public static let defaultStreamWindow: UInt32 = 256 * 1024
    public static let defaultMaxStreams = 256

    public init(maxStreamWindow: UInt32 = YamuxConfig.defaultStreamWindow, maxStreams: Int = YamuxConfig.defaultMaxStreams) {
        self.maxStreamWindow = maxStreamWindow
        self.maxStreams = maxStreams
    }
}

/// What the session tells its caller.
public enum YamuxEvent: Equatable {
    /// The peer opened a stream (SYN). Call `accept` (sends ACK) or `refuse` (sends RST).
    case streamOpened(UInt32)
    /// Payload bytes for a stream; call `consumed` once they have been passed on.
    case data(UInt32, [UInt8])
    /// The peer half-closed the stream (FIN): no more data will come.
    case remoteClosed(UInt32)
    /// The peer aborted the stream (RST); it is gone.
    case streamReset(UInt32)
    /// A SYN over the stream limit (or after our GoAway) was answered with RST at once; the
    /// stream never existed. For the caller's log, which would not hear of it otherwise.
    case streamRefused(UInt32)
    /// The peer granted send window on a stream; more may be sent now.
    case sendWindowOpened(UInt32)
    /// The peer pinged; the ACK is already queued in the output.
    case ping(UInt32)
    /// The peer answered one of our pings.
    case pingAck(UInt32)
    /// The peer will open no more streams (normal GoAway); existing streams continue.
    case goAway

    /// The stream an event is about, nil for session events.
    public var streamID: UInt32? {
        switch self {
        case .streamOpened(let id), .data(let id, _), .remoteClosed(let id), .streamReset(let id),
            .streamRefused(let id), .sendWindowOpened(let id):
            return id
        case .ping, .pingAck, .goAway:
            return nil
        }
    }
}

/// The listener (yamux "server") side of a hashicorp yamux v0 session, sans-I/O: feed it the
/// bytes received, pull events with `next()`, call the stream methods, and write whatever
/// `takeOutput()` returns. It never opens streams (the ShellHub server opens every stream,
/// PROTOCOL.md 5.2). All frames produced between two `takeOutput()` calls, headers and payloads
/// alike, are coalesced into one buffer so that the caller can send them as one message.
///
/// Flow control follows hashicorp: each stream starts with `maxStreamWindow` both ways; a
/// WindowUpdate returns credit once at least half the window has been consumed by the caller;
/// `send` never exceeds the peer's window.
public struct YamuxSession {
    enum ReadState: Equatable {
        case header
        /// `remaining` payload bytes of a Data frame for `stream`; `deliver` false discards them.
        case payload(stream: UInt32, remaining: UInt32, deliver: Bool)
    }

    let config: YamuxConfig
    var input = ByteBuffer()
    var output: [UInt8] = []
    var readState: ReadState = .header
    var streams: [YamuxStream] = []
    var events: [YamuxEvent] = []
    var eventsAfterPayload: [YamuxEvent] = []
    var failure: YamuxError? = nil
    var localGoAway = false
    public private(set) var remoteGoAway = false

    public init(config: YamuxConfig = YamuxConfig()) {
        self.config = config
    }

    // MARK: input

    public mutating func feed<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        input.append(bytes)
    }

    /// The next event, or nil when all input has been used. A thrown error is final: every
    /// later call throws it again.
    public mutating func next() throws(YamuxError) -> YamuxEvent? {
        if let f = failure { throw f }
        do { return try step() } catch {
            failure = error  // final: every later call throws it again
            throw error
        }
    }

    mutating func step() throws(YamuxError) -> YamuxEvent? {
        while true {
            if !events.isEmpty { return events.removeFirst() }
            switch readState {
            case .header:
                guard input.count >= YamuxHeader.size else { return nil }
                let h = try YamuxHeader.decode(input)
                input.consume(YamuxHeader.size)
                try handle(h)
            case .payload(let id, let remaining, let deliver):
                if remaining == 0 {
                    readState = .header
                    events.append(contentsOf: eventsAfterPayload)
                    eventsAfterPayload.removeAll()
                    continue
                }
                if input.isEmpty { return nil }
                let n = Int(Swift.min(UInt32(clamping: input.count), remaining))
                readState = .payload(stream: id, remaining: remaining - UInt32(n), deliver: deliver)
                if deliver { return .data(id, input.read(n)) }
                input.consume(n)
            }
        }
    }

    mutating func handle(_ h: YamuxHeader) throws(YamuxError) {
        switch h.type {
        case .data, .windowUpdate:
            try handleStreamFrame(h)
        case .ping:
            if h.flags.contains(.syn) {
                YamuxHeader(type: .ping, flags: .ack, streamID: 0, length: h.length).encode(into: &output)
                events.append(.ping(h.length))
            } else if h.flags.contains(.ack) {
                events.append(.pingAck(h.length))
            }
        case .goAway:
            guard h.length == YamuxGoAwayCode.normal.rawValue else { throw .remoteGoAway(code: h.length) }
            remoteGoAway = true
            events.append(.goAway)
        }
    }

    mutating func handleStreamFrame(_ h: YamuxHeader) throws(YamuxError) {
        let id = h.streamID
        let isData = h.type == .data
        var deliver = false
        if h.flags.contains(.syn) { try incomingStream(id) }
        if let i = index(of: id) {
            var after: [YamuxEvent] = []
            if h.flags.contains(.rst) {
                streams.remove(at: i)
                after.append(.streamReset(id))
            } else {
                if h.flags.contains(.fin) {
                    switch streams[i].state {
                    case .established:
                        streams[i].state = .remoteClosed
                        after.append(.remoteClosed(id))
                    case .localClosed:
                        after.append(.remoteClosed(id))
                    case .remoteClosed, .synReceived:
                        fail(.protocolError)
                        throw .unexpectedFlag(stream: id)
                    }
                }
                if isData {
                    if h.length > streams[i].receiveWindow {
                        fail(.protocolError)
                        throw .receiveWindowExceeded(stream: id)
                    }
                    streams[i].receiveWindow -= h.length
                    deliver = true
                } else if h.length > 0 {
                    streams[i].sendWindow = streams[i].sendWindow.addingReportingOverflow(h.length).overflow
                        ? UInt32.max : streams[i].sendWindow + h.length
                    if streams[i].canSend { events.append(.sendWindowOpened(id)) }
                }
                // Both directions finished: forget the stream (hashicorp's streamClosed).
                if h.flags.contains(.fin), streams[i].state == .localClosed { streams.remove(at: i) }
            }
            if isData && h.length > 0 {
                eventsAfterPayload = after
            } else {
                events.append(contentsOf: after)
            }
        }
        if isData && h.length > 0 {
            // Data for a stream we do not know (refused, reset, closed) is drained and dropped.
            readState = .payload(stream: id, remaining: h.length, deliver: deliver)
        }
    }

    mutating func incomingStream(_ id: UInt32) throws(YamuxError) {
        // The peer is the yamux client: its ids are odd. hashicorp drops the session here.
        if id % 2 == 0 { throw .streamIDParity(id) }
        if localGoAway || streams.count >= config.maxStreams {
            YamuxHeader(type: .windowUpdate, flags: .rst, streamID: id).encode(into: &output)
            events.append(.streamRefused(id))
            return
        }
        if index(of: id) != nil {
            fail(.protocolError)
            throw .duplicateStream(id)
        }
        streams.append(YamuxStream(id: id, window: config.maxStreamWindow))
        events.append(.streamOpened(id))
    }

    mutating func fail(_ code: YamuxGoAwayCode) {
        YamuxHeader(type: .goAway, length: code.rawValue).encode(into: &output)
    }

    func index(of id: UInt32) -> Int? {
        streams.firstIndex(where: { $0.id == id })
    }

    // MARK: output

    /// Bytes to write to the peer (frames coalesced); empties the buffer.
    public mutating func takeOutput() -> [UInt8] {
        let out = output
        output = []
        return out
    }

    public var hasOutput: Bool { !output.isEmpty }

    // MARK: streams

    /// Acknowledges a stream the peer opened (WindowUpdate ACK, delta 0).
    public mutating func accept(_ id: UInt32) {
        guard let i = index(of: id), !streams[i].acknowledged else { return }
        streams[i].acknowledged = true
        YamuxHeader(type: .windowUpdate, flags: .ack, streamID: id).encode(into: &output)
    }

    /// Refuses a stream the peer opened (e.g. no free session slot): RST, stream forgotten.
    public mutating func refuse(_ id: UInt32) {
        reset(id)
    }

    /// Aborts a stream: RST, stream forgotten.
    public mutating func reset(_ id: UInt32) {
        guard let i = index(of: id) else { return }
        streams.remove(at: i)
        YamuxHeader(type: .windowUpdate, flags: .rst, streamID: id).encode(into: &output)
        // No event about this stream after the caller dropped it: queued ones are stale and
        // the rest of a payload in flight is discarded.
        events.removeAll(where: { $0.streamID == id })
        eventsAfterPayload.removeAll(where: { $0.streamID == id })
        if case .payload(let sid, let remaining, _) = readState, sid == id {
            readState = .payload(stream: sid, remaining: remaining, deliver: false)
        }
    }

    /// Half-closes a stream (FIN): we send no more; the stream is forgotten once the peer's FIN
    /// has also been seen.
    public mutating func close(_ id: UInt32) {
        guard let i = index(of: id) else { return }
        if streams[i].state == .localClosed { return }
        var flags: YamuxFlags = streams[i].takeAckFlag()
        flags.insert(.fin)
        if streams[i].state == .remoteClosed {
            streams.remove(at: i)
        } else {
            streams[i].state = .localClosed
        }
        YamuxHeader(type: .windowUpdate, flags: flags, streamID: id).encode(into: &output)
    }

    /// How many bytes `send` would accept now on `id` (0 when unknown or closed for writing).
    public func sendWindow(_ id: UInt32) -> Int {
        guard let i = index(of: id), streams[i].canSend else { return 0 }
        return Int(clamping: streams[i].sendWindow)
    }

    /// Frames as much of `bytes` as the peer's window allows into one Data frame and returns how
    /// many bytes were taken (possibly 0: wait for `.sendWindowOpened`). An unacknowledged stream
    /// is acknowledged by this frame.
    public mutating func send<C: Collection>(_ id: UInt32, _ bytes: C) throws(YamuxStreamError) -> Int
    where C.Element == UInt8 {
        guard let i = index(of: id) else { throw .unknownStream(id) }
        guard streams[i].canSend else { throw .notWritable(id) }
        let n = Swift.min(bytes.count, Int(clamping: streams[i].sendWindow))
        if n == 0 { return 0 }
        let flags = streams[i].takeAckFlag()
        streams[i].sendWindow -= UInt32(n)
        output.reserveCapacity(output.count + YamuxHeader.size + n)
        YamuxHeader(type: .data, flags: flags, streamID: id, length: UInt32(n)).encode(into: &output)
        output.append(contentsOf: bytes.prefix(n))
        return n
    }

    /// The caller has passed on `count` received bytes of `id`; once half the window is owed,
    /// the credit goes back to the peer in one WindowUpdate.
    public mutating func consumed(_ id: UInt32, _ count: Int) {
        guard count > 0, let i = index(of: id) else { return }
        let max = config.maxStreamWindow
        let owed = max - streams[i].receiveWindow
        streams[i].consumedUngranted = Swift.min(owed, streams[i].consumedUngranted &+ UInt32(clamping: count))
        let delta = streams[i].consumedUngranted
        guard delta >= max / 2, streams[i].state != .remoteClosed else { return }
        let flags = streams[i].takeAckFlag()
        streams[i].receiveWindow += delta
        streams[i].consumedUngranted = 0
        YamuxHeader(type: .windowUpdate, flags: flags, streamID: id, length: delta).encode(into: &output)
    }

    /// State of an open stream, nil when unknown (never opened, refused, reset or fully closed).
    public func state(_ id: UInt32) -> YamuxStreamState? {
        guard let i = index(of: id) else { return nil }
        return streams[i].publicState
    }

    /// Receive window the peer may still use on `id`.
    public func receiveWindow(_ id: UInt32) -> Int {
        guard let i = index(of: id) else { return 0 }
        return Int(clamping: streams[i].receiveWindow)
    }

    public var openStreamCount: Int { streams.count }

    // MARK: session

    /// Sends a ping (SYN) carrying `opaque`; the answer arrives as `.pingAck(opaque)`.
    public mutating func ping(_ opaque: UInt32) {
        YamuxHeader(type: .ping, flags: .syn, length: opaque).encode(into: &output)
    }

    /// Tells the peer we accept no more streams; later SYNs are refused with RST.
    public mutating func goAway(_ code: YamuxGoAwayCode = .normal) {
        localGoAway = true
        YamuxHeader(type: .goAway, length: code.rawValue).encode(into: &output)
    }
}
