import CShims

/// Why a link ended.
public enum LinkError: Error, Equatable {
    case resolve(SocketError)
    case connect(SocketError)
    /// The proxy refused the CONNECT (HTTP status, 0 when its answer was not HTTP).
    case proxyRefused(status: Int)
    case tls(TLSError)
    /// No progress within the phase's deadline ("tls handshake", "proxy", "close").
    case timedOut(phase: String)
    /// The socket failed (errno).
    case io(Int32)
    /// The peer closed the connection before the handshake finished.
    case closedEarly
    /// The loop's timer table was full: the phase's deadline could not be armed.
    case noTimer

    public var message: String {
        switch self {
        case .resolve(let e), .connect(let e): return e.message
        case .proxyRefused(let s): return "proxy CONNECT refused: " + (s == 0 ? "bad answer" : "HTTP " + String(s))
        case .tls(let e): return e.message
        case .timedOut(let p): return p + ": timed out"
        case .io(let e): return "socket: " + Errno.text(e)
        case .closedEarly: return "connection closed during setup"
        case .noTimer: return "event loop timer table full"
        }
    }
}

/// Events of a `Link`, delivered from the event loop.
public protocol LinkDelegate: AnyObject {
    /// TCP (and TLS, when configured) is up; `send` may be called.
    func linkOpened(_ link: Link)
    /// Plaintext arrived. The buffer is only valid during the call.
    func link(_ link: Link, received bytes: UnsafeRawBufferPointer)
    /// The output queue, which had refused a `send`, has room again.
    func linkWritable(_ link: Link)
    /// The link is closed and its fd released: `error` is nil for a clean end (peer EOF or
    /// our own `close()`). Called once per link, never from inside a call made on the link.
    func linkClosed(_ link: Link, error: LinkError?)
}

/// Connection parameters of a `Link`.
public struct LinkOptions {
    public var host: String
    public var port: UInt16
    /// TLS over the connection when set; the certificate must match `serverName`.
    public var tls: TLSContext?
    public var serverName: String?
    /// CONNECT proxy to cross (NO_PROXY was applied by the configuration).
    public var proxy: ProxySettings?
    public var connectTimeoutMilliseconds: UInt64 = 10_000
    /// Proxy answer plus TLS handshake.
    public var handshakeTimeoutMilliseconds: UInt64 = 15_000
    /// Bound on flushing queued output at `close()`.
    public var closeTimeoutMilliseconds: UInt64 = 2_000
    /// Output queue size: `send` refuses what does not fit.
    public var outputCapacity = Link.defaultOutputCapacity
    /// Plaintext read buffer.
    public var readChunk = Link.defaultReadChunk

    public init(host: String, port: UInt16, tls: TLSContext? = nil) {
        self.host = host
        self.port = port
        self.tls = tls
    }
}

/// A byte pipe over TCP, optionally through an HTTP CONNECT proxy and TLS, driven by the event
/// loop: the carrier the runtime runs HTTP and WebSocket over. Memory is fixed at creation
/// (read buffer + bounded output queue); a full queue refuses `send` and `linkWritable` says
/// when to retry.
public final class Link: IOHandler {
    public static let defaultOutputCapacity = 65_536
    public static let defaultReadChunk = 8_192
    /// Reads per wake-up before yielding to other descriptors.
    static let readBudget = 8
    /// Plaintext handed to one TLS write: one record's worth (TLS caps a record at 16 KiB).
    static let tlsWriteChunk = 16_384

    public enum State: Equatable, Sendable {
        case idle, resolving, connecting, proxying, handshaking, open, closing, closed
    }

    public let options: LinkOptions
    public private(set) var state = State.idle
    public private(set) var fd: Int32 = -1
    public private(set) var tls: TLSClient?
    /// Plaintext byte counters and last-activity times (loop monotonic ms), for keepalive
    /// policy and benchmarks.
    public private(set) var bytesReceived: UInt64 = 0
    public private(set) var bytesSent: UInt64 = 0
    public private(set) var lastReceiveMilliseconds: UInt64 = 0
    public private(set) var lastSendMilliseconds: UInt64 = 0
    /// The address connected to (or the proxy's).
    public private(set) var remoteAddress: SocketAddress?

    private let loop: EventLoop
    private let resolver: Resolver?
    private var delegate: (any LinkDelegate)?
    private let output: ByteRing
    private let readBuffer: UnsafeMutableRawBufferPointer
    private var connector: TCPConnector?
    private var timer = TimerToken.none
    private var deferred = TimerToken.none
    private var readingPaused = false
    private var refusedSend = false
    private var tlsWriteWantsRead = false
    private var tlsReadWantsWrite = false
    private var proxyFill = 0
    private var usesProxy = false

    /// A link to `options.host:options.port`; call `open()` to start.
    public init(loop: EventLoop, resolver: Resolver?, options: LinkOptions, delegate: any LinkDelegate) {
        self.loop = loop
        self.resolver = resolver
        self.options = options
        self.delegate = delegate
        output = ByteRing(capacity: options.outputCapacity)
        readBuffer = .allocate(byteCount: options.readChunk, alignment: 1)
    }

    /// Adopts an already connected socket (e.g. a session slot's socketpair end, or a dialled
    /// proxy target); TLS is not used. The link is open at once.
    public convenience init(loop: EventLoop, connectedFd: Int32, options: LinkOptions = LinkOptions(host: "", port: 0),
                            delegate: any LinkDelegate) throws(EventLoopError) {
        self.init(loop: loop, resolver: nil, options: options, delegate: delegate)
        _ = tether_set_nonblocking(connectedFd)
        fd = connectedFd
        try loop.register(fd: fd, interest: .readable, handler: self)
        state = .open
    }

    deinit {
        teardown()
        readBuffer.deallocate()
    }

    // MARK: public API

    /// Resolves, connects, crosses the proxy, does the TLS handshake; then `linkOpened`.
    public func open() {
        guard state == .idle else { return }
        let target: String
        let port: UInt16
        if let p = options.proxy {
            usesProxy = true
            target = p.host
            port = p.port
        } else {
            target = options.host
            port = options.port
        }
        state = .resolving
        if let a = SocketAddress(numericHost: target, port: port) {
            connect([a])
            return
        }
        guard let resolver else {
            fail(.resolve(.resolveFailed(host: target, reason: "no resolver")))
            return
        }
        resolver.resolve(host: target, port: port) { [self] result in
            guard state == .resolving else { return }
            switch result {
            case .success(let addresses): connect(addresses)
            case .failure(let e): fail(.resolve(e))
            }
        }
    }

    /// Queues `bytes` for sending; false (nothing queued) when the output queue lacks room,
    /// then `linkWritable` follows once it drained. Allowed only while open.
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard state == .open else { return false }
        if !output.append(bytes) {
            refusedSend = true
            return false
        }
        flush()
        return true
    }

    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { send($0) }
    }

    /// Queues as much of `bytes` as the output queue takes and returns how many; when not all
    /// fit, `linkWritable` follows once the queue has room. (The write this starts may call
    /// `linkWritable` back before returning, for an earlier refusal.)
    public func sendPrefix(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard state == .open else { return 0 }
        let n = min(bytes.count, output.space)
        if n > 0 {
            _ = output.append(UnsafeRawBufferPointer(rebasing: bytes[0..<n]))
            flush()
        }
        if n < bytes.count { refusedSend = true }
        return n
    }

    /// Room left in the output queue.
    public var outputSpace: Int { output.space }
    /// Bytes queued and not yet handed to the kernel (or to TLS).
    public var pendingOutput: Int { output.count }

    /// Stops delivering received bytes (backpressure) until `resumeReading`.
    public func pauseReading() {
        readingPaused = true
        updateInterest()
    }

    public func resumeReading() {
        guard readingPaused else { return }
        readingPaused = false
        updateInterest()
        // Plaintext already decrypted inside mbedTLS will not wake poll.
        if let t = tls, t.bytesAvailable > 0 { scheduleDeferredRead() }
    }

    /// Graceful close: flushes queued output (bounded by the close timeout), sends TLS
    /// close_notify, closes the socket; `linkClosed(nil)` follows from the loop.
    public func close() {
        switch state {
        case .open:
            state = .closing
            loop.cancel(timer)
            do {
                timer = try loop.schedule(afterMilliseconds: options.closeTimeoutMilliseconds) { [self] in
                    timer = .none
                    finishClose()
                }
            } catch {
                // No bound on the flush: close now rather than flush for ever.
                finishClose()
                return
            }
            if output.isEmpty { finishClose() } else { updateInterest() }
        case .idle, .resolving, .connecting, .proxying, .handshaking:
            fail(nil)
        case .closing, .closed:
            return
        }
    }

    /// Closes at once without notifying the delegate.
    public func abort() {
        delegate = nil
        teardown()
        state = .closed
    }

    // MARK: connecting

    private func connect(_ addresses: [SocketAddress]) {
        state = .connecting
        let c = TCPConnector(loop: loop, addresses: addresses,
                             attemptTimeoutMilliseconds: options.connectTimeoutMilliseconds) { [self] result in
            connector = nil
            guard state == .connecting else {
                if case .success(let fd) = result { Socket.close(fd) }
                return
            }
            switch result {
            case .success(let fd): connected(fd, addresses)
            case .failure(let e): fail(.connect(e))
            }
        }
        connector = c
        c.start()
    }

    private func connected(_ fd: Int32, _ addresses: [SocketAddress]) {
        self.fd = fd
        remoteAddress = addresses.first
        do {
            try loop.register(fd: fd, interest: .readable, handler: self)
        } catch {
            fail(.io(EMFILE))
            return
        }
        do {
            timer = try loop.schedule(afterMilliseconds: options.handshakeTimeoutMilliseconds) { [self] in
                timer = .none
                fail(.timedOut(phase: state == .proxying ? "proxy" : "tls handshake"))
            }
        } catch {
            fail(.noTimer)
            return
        }
        if usesProxy, let p = options.proxy {
            state = .proxying
            proxyFill = 0
            let req = p.connectRequest(host: options.host, port: options.port)
            // The request is small and the socket fresh: one write suffices in practice; a
            // short write is treated as a failure rather than queued.
            guard case .bytes(let n) = Socket.write(fd, req), n == req.count else {
                fail(.io(Errno.current))
                return
            }
            return
        }
        startTLSOrOpen()
    }

    private func startTLSOrOpen() {
        guard let ctx = options.tls else {
            becomeOpen()
            return
        }
        do {
            tls = try TLSClient(context: ctx, fd: fd, serverName: options.serverName ?? options.host,
                                port: options.port)
        } catch {
            fail(.tls(error))
            return
        }
        state = .handshaking
        stepHandshake()
    }

    private func stepHandshake() {
        guard let t = tls else { return }
        do {
            switch try t.handshake() {
            case .done: becomeOpen()
            case .wantRead: setInterest(.readable)
            case .wantWrite: setInterest(.writable)
            }
        } catch {
            fail(.tls(error))
        }
    }

    private func becomeOpen() {
        loop.cancel(timer)
        timer = .none
        state = .open
        let now = loop.nowMilliseconds
        lastReceiveMilliseconds = now
        lastSendMilliseconds = now
        updateInterest()
        delegate?.linkOpened(self)
        // Bytes that arrived with the last handshake record may already be decrypted.
        if state == .open, let t = tls, t.bytesAvailable > 0 { scheduleDeferredRead() }
    }

    private func readProxyAnswer() {
        // The answer head is read into the read buffer; bytes after it are tunnel bytes, which
        // a TLS server never sends first, so anything extra is a protocol error.
        let room = UnsafeMutableRawBufferPointer(rebasing: readBuffer[proxyFill...])
        if room.isEmpty {
            fail(.proxyRefused(status: 0))
            return
        }
        switch Socket.read(fd, into: room) {
        case .bytes(let n): proxyFill += n
        case .wouldBlock: return
        case .closed: fail(.closedEarly); return
        case .failed(let e): fail(.io(e)); return
        }
        let got = UnsafeRawBufferPointer(rebasing: readBuffer[0..<proxyFill])
        guard let answer = ProxySettings.parseConnectResponse(got) else { return }
        if answer.status / 100 != 2 || answer.headLength != proxyFill {
            fail(.proxyRefused(status: answer.status))
            return
        }
        startTLSOrOpen()
    }

    // MARK: I/O

    public func ioReady(fd: Int32, events: IOEvents, loop: EventLoop) {
        guard fd == self.fd else { return }
        switch state {
        case .proxying:
            readProxyAnswer()
        case .handshaking:
            stepHandshake()
        case .open, .closing:
            if events.contains(.writable) || (tlsWriteWantsRead && events.contains(.readable)) { flush() }
            if state == .open || state == .closing,
               events.contains(.readable) || events.contains(.hangup) || tlsReadWantsWrite {
                if !readingPaused || events.contains(.hangup) { readAvailable() }
            }
        default:
            break
        }
    }

    private func readAvailable() {
        var rounds = 0
        while state == .open || state == .closing {
            if readingPaused { return }
            if rounds == Link.readBudget {
                // Fairness: let other descriptors run; buffered TLS plaintext needs a nudge.
                if let t = tls, t.bytesAvailable > 0 { scheduleDeferredRead() }
                return
            }
            rounds += 1
            let n: Int
            if let t = tls {
                let r: TLSIOResult
                do { r = try t.read(into: readBuffer) } catch { fail(.tls(error)); return }
                switch r {
                case .bytes(let k): n = k
                case .wantRead: tlsReadWantsWrite = false; updateInterest(); return
                case .wantWrite: tlsReadWantsWrite = true; updateInterest(); return
                case .closed: peerClosed(); return
                }
            } else {
                switch Socket.read(fd, into: readBuffer) {
                case .bytes(let k): n = k
                case .wouldBlock: return
                case .closed: peerClosed(); return
                case .failed(let e): fail(.io(e)); return
                }
            }
            bytesReceived &+= UInt64(n)
            lastReceiveMilliseconds = loop.nowMilliseconds
            delegate?.link(self, received: UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]))
        }
    }

    private func peerClosed() {
        if state == .closing {
            finishClose()
        } else {
            fail(nil)
        }
    }

    private func flush() {
        while !output.isEmpty && (state == .open || state == .closing) {
            let moved: Int
            if let t = tls {
                // After want-read/write the head bytes are unchanged (the queue only grows at
                // the tail), which is what TLSClient.write needs for its retry.
                let chunk = output.headChunk(max: Link.tlsWriteChunk)
                let r: TLSIOResult
                do { r = try t.write(from: chunk) } catch { fail(.tls(error)); return }
                switch r {
                case .bytes(let k):
                    moved = k
                    tlsWriteWantsRead = false
                case .wantWrite:
                    tlsWriteWantsRead = false
                    updateInterest()
                    return
                case .wantRead:
                    tlsWriteWantsRead = true
                    updateInterest()
                    return
                case .closed:
                    fail(.io(EPIPE))
                    return
                }
            } else {
                switch Socket.write(fd, from: output.headChunk()) {
                case .bytes(let k): moved = k
                case .wouldBlock: updateInterest(); return
                case .closed: fail(.io(EPIPE)); return
                case .failed(let e): fail(.io(e)); return
                }
            }
            output.consume(moved)
            bytesSent &+= UInt64(moved)
            lastSendMilliseconds = loop.nowMilliseconds
        }
        updateInterest()
        if output.isEmpty && state == .closing {
            finishClose()
            return
        }
        if refusedSend && output.space >= output.capacity / 2 && state == .open {
            refusedSend = false
            delegate?.linkWritable(self)
        }
    }

    private func updateInterest() {
        guard fd >= 0 else { return }
        var want: IOEvents = []
        switch state {
        case .open, .closing:
            if !readingPaused || tlsWriteWantsRead { want.insert(.readable) }
            if !output.isEmpty && !tlsWriteWantsRead { want.insert(.writable) }
            if tlsReadWantsWrite { want.insert(.writable) }
        default:
            want = .readable
        }
        setInterest(want)
    }

    private func setInterest(_ e: IOEvents) {
        guard fd >= 0 else { return }
        // Fails only for an fd that is not registered; `fd` is from `connected` to teardown.
        try? loop.setInterest(fd: fd, e)
    }

    private func scheduleDeferredRead() {
        if loop.isPending(deferred) { return }
        do {
            deferred = try loop.schedule(afterMilliseconds: 0) { [self] in
                deferred = .none
                if state == .open || state == .closing { readAvailable() }
            }
        } catch {
            // Bytes mbedTLS already decrypted would wait for the next packet: not safe.
            fail(.noTimer)
        }
    }

    // MARK: ending

    private func finishClose() {
        if let t = tls { _ = t.closeNotify() }
        fail(nil)
    }

    /// Tears down and tells the delegate from the loop (never re-entrantly).
    private func fail(_ error: LinkError?) {
        if state == .closed { return }
        teardown()
        state = .closed
        guard let d = delegate else { return }
        delegate = nil
        let notified = (try? loop.schedule(afterMilliseconds: 0) { [self] in
            d.linkClosed(self, error: error)
        }) != nil
        // No timer for the deferred notice: told now instead (re-entrant, but not lost).
        if !notified { d.linkClosed(self, error: error) }
    }

    private func teardown() {
        connector?.cancel()
        connector = nil
        loop.cancel(timer)
        timer = .none
        loop.cancel(deferred)
        deferred = .none
        tls = nil
        if fd >= 0 {
            loop.unregister(fd: fd)
            Socket.close(fd)
            fd = -1
        }
        output.removeAll()
    }
}
