import TetherWire

/// The v2 tunnel (PROTOCOL.md 5.2, 6) as a state machine: the yamux listener session over the
/// tunnel WebSocket's byte stream, multistream-select and the JSON header line on every new
/// stream, and the session slots the streams land in.
///
/// The runtime feeds it the WebSocket's binary payloads (`receive`), performs the actions it
/// pulls with `nextAction`, writes `takeOutput()` to the WebSocket after every call that may
/// have produced output, and arms a timer at `nextDeadline`. Server pings are answered inside
/// `receive` (the ACK is in the output at once). A thrown `YamuxError` ends the tunnel.
///
/// Streams are not slots: a stream is negotiated first (bounded by `maxNegotiatingStreams`)
/// and takes a slot only when its header asks for an SSH session or a proxy, so a close
/// request still gets through when every slot is busy.
public struct V2Tunnel {
    /// Streams still negotiating at once; a SYN beyond this (plus the slots) gets RST.
    public static let maxNegotiatingStreams = 8
    /// The server gives negotiation 30 s; a stream that has not finished in 60 s is reset.
    public static let negotiationTimeout: Millis = .seconds(60)
    /// A stream we half-closed (FIN) whose FIN from the server has not come in this long is
    /// reset, so it stops holding one of yamux's stream places (hashicorp's StreamCloseTimeout).
    public static let closeTimeout: Millis = .seconds(300)

    private struct Negotiation {
        var stream: UInt32
        var listener: MultistreamListener
        var openedAt: Instant
    }

    private var yamux: YamuxSession
    public private(set) var slots: SessionSlots
    private var negotiations: [Negotiation] = []
    private var actions: [V2TunnelAction] = []
    private var nextPingID: UInt32 = 1
    /// Streams we half-closed, waiting for the server's FIN (pruned of streams that are gone,
    /// so never more than yamux's stream limit).
    private var closing: [(stream: UInt32, since: Instant)] = []
    /// The time of the call being handled (every entry point that may close a stream sets it).
    private var clock = Instant.zero

    public init(sessionSlots: Int) {
        slots = SessionSlots(capacity: sessionSlots)
        yamux = YamuxSession(
            config: YamuxConfig(maxStreams: sessionSlots + V2Tunnel.maxNegotiatingStreams))
        negotiations.reserveCapacity(V2Tunnel.maxNegotiatingStreams)
    }

    // MARK: input

    /// Bytes from the tunnel WebSocket (any message boundaries).
    public mutating func receive<C: Collection>(_ bytes: C, now: Instant) throws(YamuxError)
    where C.Element == UInt8 {
        clock = now
        yamux.feed(bytes)
        while let event = try yamux.next() {
            handle(event, now: now)
        }
    }

    /// The next thing the runtime must do, in order.
    public mutating func nextAction() -> V2TunnelAction? {
        actions.isEmpty ? nil : actions.removeFirst()
    }

    /// Bytes to send on the tunnel WebSocket (yamux frames, coalesced); empties the buffer.
    public mutating func takeOutput() -> [UInt8] { yamux.takeOutput() }

    public var hasOutput: Bool { yamux.hasOutput }

    private mutating func handle(_ event: YamuxEvent, now: Instant) {
        switch event {
        case .streamOpened(let id):
            guard negotiations.count < V2Tunnel.maxNegotiatingStreams else {
                yamux.refuse(id)
                actions.append(.refused(stream: id, reason: .tooManyNegotiating))
                return
            }
            var n = Negotiation(stream: id, listener: MultistreamListener(), openedAt: now)
            // Our "/multistream/1.0.0" goes out at once; its Data frame carries the ACK.
            let hello = n.listener.takeOutput()
            _ = try? yamux.send(id, hello)
            negotiations.append(n)
        case .data(let id, let bytes):
            if let i = negotiationIndex(id) {
                yamux.consumed(id, bytes.count)
                negotiate(at: i, bytes: bytes)
            } else if let slot = slots.slot(for: .stream(id)) {
                actions.append(.data(slot: slot, bytes))
            } else {
                // A stream we closed locally or never took: drop, but return the window.
                yamux.consumed(id, bytes.count)
            }
        case .remoteClosed(let id):
            if let i = negotiationIndex(id) {
                negotiations.remove(at: i)
                yamux.reset(id)
                actions.append(.refused(stream: id, reason: .negotiationFailed))
            } else if let slot = slots.slot(for: .stream(id)) {
                actions.append(.remoteClosed(slot: slot))
            }
        case .streamReset(let id):
            if let i = negotiationIndex(id) {
                negotiations.remove(at: i)
            } else if let slot = slots.slot(for: .stream(id)) {
                slots.release(slot)
                actions.append(.reset(slot: slot))
            }
        case .streamRefused(let id):
            actions.append(.refused(stream: id, reason: .tooManyStreams))
        case .sendWindowOpened(let id):
            if let slot = slots.slot(for: .stream(id)) { actions.append(.canSend(slot: slot)) }
        case .ping:
            actions.append(.serverPing)
        case .pingAck:
            break
        case .goAway:
            actions.append(.goAway)
        }
    }

    private func negotiationIndex(_ id: UInt32) -> Int? {
        negotiations.firstIndex { $0.stream == id }
    }

    private mutating func negotiate(at i: Int, bytes: [UInt8]) {
        let id = negotiations[i].stream
        negotiations[i].listener.feed(bytes)
        while true {
            let event: MultistreamEvent?
            do {
                event = try negotiations[i].listener.next()
            } catch {
                negotiations.remove(at: i)
                yamux.reset(id)
                actions.append(.refused(stream: id, reason: .negotiationFailed))
                return
            }
            let out = negotiations[i].listener.takeOutput()
            if !out.isEmpty { _ = try? yamux.send(id, out) }
            guard let event else { return }
            if case .ready(let proto, let header, let leftover) = event {
                negotiations.remove(at: i)
                dispatch(stream: id, proto, header, leftover)
                return
            }
        }
    }

    private mutating func dispatch(
        stream id: UInt32, _ proto: MultistreamProtocol, _ header: StreamHeader, _ leftover: [UInt8]
    ) {
        switch proto {
        case .sshOpen:
            switch slots.acquire(sessionID: header.id, transport: .stream(id), purpose: .ssh) {
            case .acquired(let slot):
                actions.append(.openSSH(slot: slot, sessionID: header.id, initialBytes: leftover))
            case .full:
                yamux.reset(id)
                actions.append(.refused(stream: id, reason: .slotsFull))
            case .sessionIDTooLong:
                yamux.reset(id)
                actions.append(.refused(stream: id, reason: .badHeader))
            }
        case .sshClose:
            if let slot = slots.slot(forSession: header.id) {
                actions.append(.closeSSH(slot: slot))
            } else {
                actions.append(.unknownSession(header.id))
            }
            halfClose(id)
        case .httpProxy:
            guard let host = header.host, !host.isEmpty, let port = header.portNumber else {
                replyAndClose(id, .error("bad proxy header"))
                actions.append(.refused(stream: id, reason: .badHeader))
                return
            }
            switch slots.acquire(sessionID: header.id, transport: .stream(id), purpose: .proxy) {
            case .acquired(let slot):
                actions.append(.proxy(slot: slot, host: host, port: port, initialBytes: leftover))
            case .full, .sessionIDTooLong:
                replyAndClose(id, .error("no free session slot"))
                actions.append(.refused(stream: id, reason: .slotsFull))
            }
        }
    }

    private mutating func replyAndClose(_ id: UInt32, _ reply: ProxyReply) {
        _ = try? yamux.send(id, reply.encode())
        halfClose(id)
    }

    /// FIN on a stream; it is watched until the server's FIN ends it, or `closeTimeout`.
    private mutating func halfClose(_ id: UInt32) {
        yamux.close(id)
        var i = 0
        while i < closing.count {
            if yamux.state(closing[i].stream) == nil { closing.remove(at: i) } else { i += 1 }
        }
        if yamux.state(id) != nil { closing.append((id, clock)) }
    }

    private func stream(of slot: Int) -> UInt32? {
        if case .stream(let id) = slots.transport(of: slot) { return id }
        return nil
    }

    // MARK: slots (called by the runtime)

    /// How many bytes `send` would take now for `slot` (0: wait for `.canSend`).
    public func sendWindow(_ slot: Int) -> Int {
        guard let id = stream(of: slot) else { return 0 }
        return yamux.sendWindow(id)
    }

    /// Sends bytes from the slot's local end to the server; returns how many were taken
    /// (bounded by the server's window). 0 for a slot that is gone.
    public mutating func send<C: Collection>(_ slot: Int, _ bytes: C) -> Int where C.Element == UInt8 {
        guard let id = stream(of: slot) else { return 0 }
        return (try? yamux.send(id, bytes)) ?? 0
    }

    /// The runtime has passed `count` bytes of `.data` on to the slot's local end: the window
    /// goes back to the server as they drain, so a stream never freezes.
    public mutating func consumed(_ slot: Int, _ count: Int) {
        guard let id = stream(of: slot) else { return }
        yamux.consumed(id, count)
    }

    /// The slot's local end is finished (SSH session over, proxied socket closed): FIN to the
    /// server, and the slot is free at once (late data for the stream is dropped).
    public mutating func localClosed(_ slot: Int, now: Instant) {
        guard let id = stream(of: slot) else { return }
        clock = now
        halfClose(id)
        slots.release(slot)
    }

    /// Aborts the slot's stream (RST) and frees the slot.
    public mutating func abort(_ slot: Int) {
        guard let id = stream(of: slot) else { return }
        yamux.reset(id)
        slots.release(slot)
    }

    /// The proxy's TCP connection is up: `{"status":"ok"}` goes out, then raw bytes.
    public mutating func proxyConnected(_ slot: Int) {
        guard case .stream(let id) = slots.proxyDialed(slot) else { return }
        _ = try? yamux.send(id, ProxyReply.ok.encode())
    }

    /// The proxy's dial failed: `{"error":...}`, FIN, slot freed.
    public mutating func proxyFailed(_ slot: Int, message: String, now: Instant) {
        guard case .stream(let id) = slots.proxyDialed(slot) else { return }
        clock = now
        replyAndClose(id, .error(message))
        slots.release(slot)
    }

    // MARK: timers and keepalive

    /// The earliest negotiation or half-close deadline; nil when there is none.
    public var nextDeadline: Instant? {
        var next: Instant? = nil
        for n in negotiations { next = earliest(next, n.openedAt + V2Tunnel.negotiationTimeout) }
        for c in closing { next = earliest(next, c.since + V2Tunnel.closeTimeout) }
        return next
    }

    /// Resets streams whose negotiation outlived `negotiationTimeout`, and half-closed streams
    /// the server did not close within `closeTimeout`.
    public mutating func timerFired(now: Instant) {
        clock = now
        var c = 0
        while c < closing.count {
            let (id, since) = closing[c]
            if yamux.state(id) == nil {
                closing.remove(at: c)
            } else if now - since >= V2Tunnel.closeTimeout {
                closing.remove(at: c)
                yamux.reset(id)
                actions.append(.refused(stream: id, reason: .closeTimeout))
            } else {
                c += 1
            }
        }
        var i = 0
        while i < negotiations.count {
            if now - negotiations[i].openedAt >= V2Tunnel.negotiationTimeout {
                let id = negotiations[i].stream
                negotiations.remove(at: i)
                yamux.reset(id)
                actions.append(.refused(stream: id, reason: .negotiationTimeout))
            } else {
                i += 1
            }
        }
    }

    /// An agent yamux ping, for when the keepalive scheduler says the tunnel needs one.
    public mutating func ping() {
        yamux.ping(nextPingID)
        nextPingID &+= 1
    }

    /// Streams open in yamux (negotiating, in slots, or half-closed).
    public var openStreamCount: Int { yamux.openStreamCount }
    public var negotiatingCount: Int { negotiations.count }
}

/// What `V2Tunnel` asks the runtime to do.
public enum V2TunnelAction: Equatable {
    /// Start an SSH server session in `slot`; `initialBytes` already arrived after the header.
    case openSSH(slot: Int, sessionID: String, initialBytes: [UInt8])
    /// The server asked to close the SSH session in `slot`: end it, then call `localClosed`.
    case closeSSH(slot: Int)
    /// Dial host:port (non-blocking) for `slot`; report `proxyConnected` or `proxyFailed`;
    /// write `initialBytes` to the target once connected.
    case proxy(slot: Int, host: String, port: UInt16, initialBytes: [UInt8])
    /// Bytes for the slot's local end; call `consumed` as they are written.
    case data(slot: Int, [UInt8])
    /// The server will send no more on this slot (FIN): shut down the local write side.
    case remoteClosed(slot: Int)
    /// The server aborted the slot's stream (RST); the slot is already free: tear down.
    case reset(slot: Int)
    /// The server granted window: `send` may take more for this slot.
    case canSend(slot: Int)
    /// A stream was refused (RST or error reply already queued): one log line.
    case refused(stream: UInt32, reason: StreamRefusal)
    /// A close request named a session this agent does not have (one log line).
    case unknownSession(String)
    /// A server ping arrived and its ACK is queued: the tunnel is alive (heartbeat).
    case serverPing
    /// The server will open no more streams (normal GoAway): plan a reconnect.
    case goAway
}
