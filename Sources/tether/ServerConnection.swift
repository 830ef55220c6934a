import CShims
import TetherAgent
import TetherPlatform

/// What a `ServerConnection` tells its owner. Called from the event loop.
protocol ServerConnectionDelegate: AnyObject {
    /// TCP (and TLS, when used) is up; bytes may be sent.
    func connectionOpened(_ connection: ServerConnection)
    /// Bytes arrived. The buffer is only valid during the call.
    func connection(_ connection: ServerConnection, received bytes: UnsafeRawBufferPointer)
    /// The connection is gone (error, EOF, or `close()`); called once, after which the
    /// connection is inert. `reason` is a short text for a log line.
    func connectionClosed(_ connection: ServerConnection, reason: String)
}

/// One outgoing byte pipe to the ShellHub server: resolve (cached), non-blocking TCP connect,
/// optional TLS (mbedTLS, verification on), then buffered, non-blocking reads and writes
/// driven by the event loop. The API exchange, the tunnel WebSocket and every v1 dial-back run
/// over one of these.
///
/// Memory stays bounded: reads go through one fixed scratch buffer, and `send` refuses bytes
/// beyond `maxPending` so a stalled peer cannot grow the queue.
final class ServerConnection: IOHandler {
    enum State: Equatable { case idle, resolving, connecting, handshaking, open, closed }

    /// Bytes read per call; also the size of the shared scratch buffer.
    static let readChunk = 16 * 1024
    /// The `reason` of `connectionClosed` for an orderly EOF from the server.
    static let closedByServer = "closed by server"

    let host: String
    let port: UInt16
    let label: String
    private(set) var state = State.idle
    let loop: EventLoop
    private let resolver: Resolver
    private let tlsContext: TLSContext?
    private unowned(unsafe) var delegate: ServerConnectionDelegate?
    private var connector: TCPConnector?
    private var tls: TLSClient?
    private(set) var fd: Int32 = -1
    private var pending: [UInt8] = []
    private var pendingStart = 0
    let maxPending: Int
    private var timeoutTimer = TimerToken.none
    /// While true, nothing is read: back-pressure from a slow local end (TCP then pushes back
    /// on the server).
    private(set) var readPaused = false

    /// Traffic counters (application bytes, before TLS) and activity times (loop ms), which
    /// the keepalive scheduler reads.
    private(set) var bytesIn: UInt64 = 0
    private(set) var bytesOut: UInt64 = 0
    private(set) var lastReceiveMs: UInt64 = 0
    private(set) var lastSendMs: UInt64 = 0

    init(loop: EventLoop, resolver: Resolver, host: String, port: UInt16, tls: TLSContext?,
         label: String, maxPending: Int = 256 * 1024, delegate: ServerConnectionDelegate) {
        self.loop = loop
        self.resolver = resolver
        self.host = host
        self.port = port
        self.tlsContext = tls
        self.label = label
        self.maxPending = maxPending
        self.delegate = delegate
    }

    var pendingCount: Int { pending.count - pendingStart }
    var isOpen: Bool { state == .open }

    /// Starts resolving and connecting; `timeoutMs` bounds everything up to `connectionOpened`.
    func start(timeoutMs: UInt64) {
        guard state == .idle else { return }
        state = .resolving
        timeoutTimer = (try? loop.schedule(afterMilliseconds: timeoutMs) { [self] in
            self.timeoutTimer = .none
            self.fail("timed out (\(timeoutMs / 1000) s) while \(self.stateText)")
        }) ?? .none
        resolver.resolve(host: host, port: port) { [self] result in
            guard self.state == .resolving else { return }
            switch result {
            case .failure(let e): self.fail(e.message)
            case .success(let addresses): self.connect(addresses)
            }
        }
    }

    private var stateText: String {
        switch state {
        case .idle, .resolving: return "resolving \(host)"
        case .connecting: return "connecting"
        case .handshaking: return "in the TLS handshake"
        case .open, .closed: return "open"
        }
    }

    private func connect(_ addresses: [SocketAddress]) {
        state = .connecting
        let c = TCPConnector(loop: loop, addresses: addresses) { [self] result in
            self.connector = nil
            guard self.state == .connecting else {
                if case .success(let fd) = result { Socket.close(fd) }
                return
            }
            switch result {
            case .failure(let e): self.fail(e.message)
            case .success(let fd): self.connected(fd)
            }
        }
        connector = c
        c.start()
    }

    private func connected(_ newFd: Int32) {
        fd = newFd
        _ = Socket.setNoDelay(fd, true)
        do {
            try loop.register(fd: fd, interest: .readable, handler: self)
        } catch {
            fail("event loop full")
            return
        }
        if let ctx = tlsContext {
            do {
                tls = try TLSClient(context: ctx, fd: fd, serverName: host, port: port)
            } catch {
                fail(error.message)
                return
            }
            state = .handshaking
            continueHandshake()
        } else {
            opened()
        }
    }

    private func continueHandshake() {
        guard let tls else { return }
        do {
            switch try tls.handshake() {
            case .done: opened()
            case .wantRead: setInterest(.readable)
            case .wantWrite: setInterest([.readable, .writable])
            }
        } catch {
            fail(error.message)
        }
    }

    private func opened() {
        state = .open
        loop.cancel(timeoutTimer)
        timeoutTimer = .none
        lastReceiveMs = loop.nowMilliseconds
        lastSendMs = lastReceiveMs
        delegate?.connectionOpened(self)
        if state == .open { flush() }
    }

    /// Queues bytes and writes what the socket takes now. Returns false (and queues nothing)
    /// when the queue would exceed `maxPending`; the caller must apply back-pressure.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        guard state != .closed else { return false }
        guard pendingCount + bytes.count <= maxPending else { return false }
        if pendingStart > 0 && pendingStart >= pending.count / 2 {
            pending.removeFirst(pendingStart)
            pendingStart = 0
        }
        pending.append(contentsOf: bytes)
        if state == .open { flush() }
        return true
    }

    /// Room left in the send queue.
    var sendCapacity: Int { maxPending - pendingCount }

    /// Closes at once (no TLS close_notify: the server side does the same, PROTOCOL.md 5.1).
    func close() {
        teardown()
    }

    private func fail(_ reason: String) {
        guard state != .closed else { return }
        teardown()
        delegate?.connectionClosed(self, reason: reason)
    }

    private func teardown() {
        guard state != .closed else { return }
        state = .closed
        loop.cancel(timeoutTimer)
        timeoutTimer = .none
        connector?.cancel()
        connector = nil
        tls = nil
        if fd >= 0 {
            loop.unregister(fd: fd)
            Socket.close(fd)
            fd = -1
        }
        pending = []
        pendingStart = 0
    }

    private func setInterest(_ interest: IOEvents) {
        guard fd >= 0 else { return }
        var i = interest
        if readPaused && state == .open { i.remove(.readable) }
        try? loop.setInterest(fd: fd, i)
    }

    /// Stops or resumes reading (open connections only).
    func setReadPaused(_ paused: Bool) {
        guard paused != readPaused else { return }
        readPaused = paused
        guard state == .open else { return }
        setInterest(pendingCount > 0 ? [.readable, .writable] : .readable)
        // TLS may hold decrypted bytes that poll cannot see.
        if !paused { readAvailable() }
    }

    // MARK: - I/O

    func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        switch state {
        case .handshaking:
            continueHandshake()
        case .open:
            if events.contains(.writable) { flush() }
            if state == .open, events.contains(.readable) || events.contains(.hangup) { readAvailable() }
        default:
            break
        }
    }

    private func flush() {
        while state == .open && pendingCount > 0 {
            let result: IOOutcome = pending.withUnsafeBytes { all in
                let chunk = UnsafeRawBufferPointer(rebasing: all[pendingStart...])
                return writeSome(chunk)
            }
            switch result {
            case .bytes(let n):
                pendingStart += n
                bytesOut += UInt64(n)
                lastSendMs = loop.nowMilliseconds
            case .wouldBlock(let wantRead):
                setInterest(wantRead ? .readable : [.readable, .writable])
                return
            case .closed(let why):
                fail(why)
                return
            }
        }
        if pendingCount == 0 {
            pending.removeAll(keepingCapacity: pending.capacity <= 64 * 1024)
            pendingStart = 0
            if state == .open { setInterest(.readable) }
        }
    }

    private enum IOOutcome { case bytes(Int), wouldBlock(wantRead: Bool), closed(String) }

    private func writeSome(_ chunk: UnsafeRawBufferPointer) -> IOOutcome {
        if let tls {
            do {
                switch try tls.write(from: chunk) {
                case .bytes(let n): return .bytes(n)
                case .wantRead: return .wouldBlock(wantRead: true)
                case .wantWrite: return .wouldBlock(wantRead: false)
                case .closed: return .closed("closed by peer")
                }
            } catch {
                return .closed(error.message)
            }
        }
        switch Socket.write(fd, from: chunk) {
        case .bytes(let n): return .bytes(n)
        case .wouldBlock: return .wouldBlock(wantRead: false)
        case .closed: return .closed("closed by peer")
        case .failed(let code): return .closed(Errno.text(code))
        }
    }

    private func readAvailable() {
        // One scratch buffer for every connection: the delegate consumes bytes synchronously.
        let scratch = ServerConnection.scratch
        while state == .open && !readPaused {
            let outcome: IOOutcome
            if let tls {
                do {
                    switch try tls.read(into: scratch) {
                    case .bytes(let n): outcome = .bytes(n)
                    case .wantRead: outcome = .wouldBlock(wantRead: true)
                    case .wantWrite: outcome = .wouldBlock(wantRead: false)
                    case .closed: outcome = .closed(ServerConnection.closedByServer)
                    }
                } catch {
                    outcome = .closed(error.message)
                }
            } else {
                switch Socket.read(fd, into: scratch) {
                case .bytes(let n): outcome = .bytes(n)
                case .wouldBlock: outcome = .wouldBlock(wantRead: true)
                case .closed: outcome = .closed(ServerConnection.closedByServer)
                case .failed(let code): outcome = .closed(Errno.text(code))
                }
            }
            switch outcome {
            case .bytes(let n):
                bytesIn += UInt64(n)
                lastReceiveMs = loop.nowMilliseconds
                delegate?.connection(self, received: UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
            case .wouldBlock(let wantRead):
                if !wantRead { setInterest([.readable, .writable]) }
                return
            case .closed(let why):
                fail(why)
                return
            }
        }
    }

    nonisolated(unsafe) private static let scratch = UnsafeMutableRawBufferPointer.allocate(
        byteCount: ServerConnection.readChunk, alignment: 8)
}
