import TetherWire

/// Transport v1 (PROTOCOL.md 5.3, 6) as a state machine: the revdial control connection's
/// lines, the dial-back connections they ask for, and the request head each dial-back carries,
/// mapped onto the session slots.
///
/// Sessions ride their own dial-back connections, so they survive a control reconnect: the
/// runtime keeps this value across control connections and calls `controlReset` when the
/// control link is replaced. Dial-back connections are named by the runtime's own connection
/// index (`conn`). The agent sends no JSON keep-alives (the server ignores them; quiet by
/// design): the control link's liveness is the keepalive scheduler's business.
public struct V1Sessions {
    /// Dial-backs without a slot yet (dialing, or waiting for their request head); conn-ready
    /// beyond this is answered with pickup-failed at once.
    public static let maxPendingDialBacks = 8
    /// A dial-back whose request head has not arrived after this long is closed.
    public static let headTimeout: Millis = .seconds(60)
    /// Request heads on dial-backs are under 200 bytes.
    static var headLimits: HTTPLimits { HTTPLimits(maxHeadBytes: 4096, maxHeaderCount: 32, maxBodyBytes: 0) }

    private struct Pending {
        var connPath: String
        /// nil while the runtime is still dialing.
        var conn: Int?
        var buffer = ByteBuffer()
        var since: Instant
    }

    private var control = RevdialControlReader()
    private var controlOutput: [UInt8] = []
    private var pending: [Pending] = []
    public private(set) var slots: SessionSlots
    private var actions: [V1Action] = []

    public init(sessionSlots: Int) {
        slots = SessionSlots(capacity: sessionSlots)
        pending.reserveCapacity(V1Sessions.maxPendingDialBacks)
    }

    public mutating func nextAction() -> V1Action? {
        actions.isEmpty ? nil : actions.removeFirst()
    }

    // MARK: control connection

    /// Bytes from the control WebSocket. A thrown error means the control stream is garbage:
    /// drop the control connection (sessions live on).
    public mutating func controlReceived<C: Collection>(_ bytes: C, now: Instant) throws(RevdialError)
    where C.Element == UInt8 {
        control.feed(bytes)
        while let message = try control.next() {
            switch message {
            case .keepAlive:
                // Liveness only: the runtime already noted the received bytes.
                break
            case .connReady(let path):
                if pending.count >= V1Sessions.maxPendingDialBacks {
                    pickupFailed(path, "agent busy")
                    actions.append(.refusedDialBack(reason: .tooManyNegotiating))
                } else {
                    pending.append(Pending(connPath: path, conn: nil, since: now))
                    actions.append(.dialBack(connPath: path))
                }
            case .pickupFailed:
                break
            }
        }
    }

    /// Bytes to send on the control WebSocket (pickup-failed lines); empties the buffer.
    public mutating func takeControlOutput() -> [UInt8] {
        let out = controlOutput
        controlOutput = []
        return out
    }

    /// The control connection was replaced: its reader starts afresh. Pending dial-backs and
    /// sessions are kept (their connections are independent).
    public mutating func controlReset() {
        control = RevdialControlReader()
        controlOutput = []
    }

    private mutating func pickupFailed(_ path: String, _ error: String) {
        controlOutput.append(contentsOf: RevdialControlMessage.pickupFailed(connPath: path, error: error).encode())
    }

    // MARK: dial-back connections

    /// The dial-back for `connPath` is up (101) as connection `conn`.
    public mutating func dialBackConnected(connPath: String, conn: Int, now: Instant) {
        guard let i = pending.firstIndex(where: { $0.conn == nil && $0.connPath == connPath }) else {
            actions.append(.closeConnection(conn: conn))
            return
        }
        pending[i].conn = conn
        pending[i].since = now
    }

    /// The dial-back for `connPath` failed (network, non-101): pickup-failed goes to the server.
    public mutating func dialBackFailed(connPath: String, error: String) {
        if let i = pending.firstIndex(where: { $0.conn == nil && $0.connPath == connPath }) {
            pending.remove(at: i)
        }
        pickupFailed(connPath, error)
    }

    /// Bytes from dial-back connection `conn`.
    public mutating func dialBackReceived<C: Collection>(conn: Int, _ bytes: C) where C.Element == UInt8 {
        if let slot = slots.slot(for: .dialBack(conn)) {
            actions.append(.data(slot: slot, Array(bytes)))
            return
        }
        guard let i = pending.firstIndex(where: { $0.conn == conn }) else { return }
        pending[i].buffer.append(bytes)
        let parsed: (head: HTTPRequestHead, consumed: Int)?
        do {
            parsed = try HTTPRequestHead.parse(pending[i].buffer, limits: V1Sessions.headLimits)
        } catch {
            pending.remove(at: i)
            actions.append(.refused(conn: conn, reason: .negotiationFailed))
            actions.append(.closeConnection(conn: conn))
            return
        }
        guard let (head, used) = parsed else { return }
        var p = pending.remove(at: i)
        p.buffer.consume(used)
        let leftover = p.buffer.readAll()
        guard let request = RevdialDialBackRequest(head) else {
            actions.append(.refused(conn: conn, reason: .badHeader))
            actions.append(.closeConnection(conn: conn))
            return
        }
        dispatch(request, conn: conn, leftover: leftover)
    }

    private mutating func dispatch(_ request: RevdialDialBackRequest, conn: Int, leftover: [UInt8]) {
        switch request {
        case .sshOpen(let id):
            switch slots.acquire(sessionID: id, transport: .dialBack(conn), purpose: .ssh) {
            case .acquired(let slot):
                actions.append(.openSSH(slot: slot, conn: conn, sessionID: id, initialBytes: leftover))
            case .full, .sessionIDTooLong:
                // SSH expects no HTTP answer: closing is the refusal.
                actions.append(.refused(conn: conn, reason: .slotsFull))
                actions.append(.closeConnection(conn: conn))
            }
        case .sshClose(let id):
            if let slot = slots.slot(forSession: id) {
                actions.append(.closeSSH(slot: slot))
            } else {
                actions.append(.unknownSession(id))
            }
            actions.append(.write(conn: conn, Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)))
            actions.append(.closeConnection(conn: conn))
        case .proxy(let host, let port):
            switch slots.acquireProxy(transport: .dialBack(conn)) {
            case .acquired(let slot):
                actions.append(.proxy(slot: slot, conn: conn, host: host, port: port, initialBytes: leftover))
            case .full, .sessionIDTooLong:
                actions.append(.write(conn: conn, V1Sessions.errorResponse("no free session slot")))
                actions.append(.refused(conn: conn, reason: .slotsFull))
                actions.append(.closeConnection(conn: conn))
            }
        }
    }

    /// Dial-back connection `conn` closed (EOF, error, or dead peer); its slot is freed.
    /// Returns the slot it held, whose local end the runtime tears down.
    @discardableResult
    public mutating func dialBackClosed(conn: Int) -> Int? {
        if let i = pending.firstIndex(where: { $0.conn == conn }) { pending.remove(at: i) }
        guard let slot = slots.slot(for: .dialBack(conn)) else { return nil }
        slots.release(slot)
        return slot
    }

    /// The connection a slot rides on.
    public func connection(of slot: Int) -> Int? {
        if case .dialBack(let conn) = slots.transport(of: slot) { return conn }
        return nil
    }

    /// The proxy's TCP connection is up: a `200 OK` head goes to the server, then raw bytes.
    public mutating func proxyConnected(_ slot: Int) {
        guard case .dialBack(let conn) = slots.proxyDialed(slot) else { return }
        actions.append(.write(conn: conn, Array("HTTP/1.1 200 OK\r\n\r\n".utf8)))
    }

    /// The proxy's dial failed: a 500 with the reason, then the dial-back is closed.
    public mutating func proxyFailed(_ slot: Int, message: String) {
        guard case .dialBack(let conn) = slots.proxyDialed(slot) else { return }
        actions.append(.write(conn: conn, V1Sessions.errorResponse(message)))
        actions.append(.closeConnection(conn: conn))
        slots.release(slot)
    }

    static func errorResponse(_ message: String) -> [UInt8] {
        let body = Array(message.utf8) + [0x0A]
        let head = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + "Content-Length: " + String(body.count) + "\r\n\r\n"
        return Array(head.utf8) + body
    }

    // MARK: timers

    /// The earliest head deadline of a connected dial-back; nil when none waits.
    public var nextDeadline: Instant? {
        var next: Instant? = nil
        for p in pending where p.conn != nil { next = earliest(next, p.since + V1Sessions.headTimeout) }
        return next
    }

    /// Closes dial-backs whose request head did not come in time.
    public mutating func timerFired(now: Instant) {
        var i = 0
        while i < pending.count {
            if let conn = pending[i].conn, now - pending[i].since >= V1Sessions.headTimeout {
                pending.remove(at: i)
                actions.append(.refused(conn: conn, reason: .negotiationTimeout))
                actions.append(.closeConnection(conn: conn))
            } else {
                i += 1
            }
        }
    }

    public var pendingDialBacks: Int { pending.count }
}

/// What `V1Sessions` asks the runtime to do.
public enum V1Action: Equatable {
    /// Open a WebSocket to `server.join(connPath)` without Authorization; report
    /// `dialBackConnected` or `dialBackFailed`.
    case dialBack(connPath: String)
    /// Start an SSH server session in `slot` on connection `conn`.
    case openSSH(slot: Int, conn: Int, sessionID: String, initialBytes: [UInt8])
    /// A close request named the session in `slot`: end it and close its connection.
    case closeSSH(slot: Int)
    /// Dial host:port for `slot`; report `proxyConnected` or `proxyFailed`; then relay.
    case proxy(slot: Int, conn: Int, host: String, port: UInt16, initialBytes: [UInt8])
    /// Bytes from the server for the slot's local end.
    case data(slot: Int, [UInt8])
    /// Write these bytes on dial-back connection `conn` (an HTTP answer).
    case write(conn: Int, [UInt8])
    /// Close dial-back connection `conn` (after any `write` before it).
    case closeConnection(conn: Int)
    /// A dial-back was refused (one log line).
    case refused(conn: Int, reason: StreamRefusal)
    /// A conn-ready was refused with pickup-failed: too many dial-backs pending.
    case refusedDialBack(reason: StreamRefusal)
    /// A close request named a session this agent does not have.
    case unknownSession(String)
}
