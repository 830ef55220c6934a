import CShims
import TetherPlatform
import TetherWire

// Host builds only: board builds leave this conformance tool out (TETHER_BOARD_BUILD, cross/build.sh);
// the WebSocket client it exercises is in every build.
#if !TETHER_BOARD_BUILD
/// `tether ws-echo <ws|wss://host:port/path>`: connects (wss: TLS verified against
/// SSL_CERT_FILE/SSL_CERT_DIR or the system bundle), completes the WebSocket handshake and
/// echoes every text and binary message back as it came, as Autobahn|Testsuite clients do.
/// Pings are answered, a close is echoed. Exit status 0 after a clean close; 1 with one line
/// naming the broken rule on a protocol failure; 2 on bad usage.
func wsEchoCommand(_ args: [String]) -> Int {
    guard args.count == 1, let url = WsEchoURL(args[0]) else {
        Console.err("usage: tether ws-echo <ws|wss://host:port/path>")
        return 2
    }
    var session = WsEchoSession(url: url)
    return session.run()
}

/// Linux socket ABI values (identical on x86_64, aarch64 and armv7). glibc declares them as
/// C enums and musl as macros, so Swift sees different types; plain numbers work with both.
enum WsEchoSocketABI {
    static let sockStream: Int32 = 1
    static let sockNonblock: Int32 = 0o4000
    static let sockCloexec: Int32 = 0o2000000
    static let msgNoSignal: Int32 = 0x4000
    static let shutWrite: Int32 = 1
}

/// Limits of the echo client: generous, as a conformance client needs, but bounded.
enum WsEchoLimits {
    static let websocket = WebSocketLimits(
        maxFrameSize: 1 << 24, maxMessageSize: 1 << 24, maxOutgoingFrameSize: 1 << 20,
        maxHandshakeHeadSize: 8192)
    static let readChunk = 65536
    static let connectTimeoutMs: Int32 = 10_000
    static let handshakeTimeoutMs: Int32 = 45_000
    /// After the close handshake the server should close TCP first (RFC 6455 7.1.1); wait
    /// this long for it before closing ourselves.
    static let closeLingerMs: Int32 = 2_000
}

/// One echo connection: a non-blocking socket driven by its own small poll() loop.
struct WsEchoSession {
    let url: WsEchoURL
    private var fd: Int32 = -1
    private var pending: [UInt8] = []
    private var pendingOffset = 0
    private var readBuffer = [UInt8](repeating: 0, count: WsEchoLimits.readChunk)
    /// Set for wss: all bytes then go through TLS.
    private var tls: TLSClient?

    init(url: WsEchoURL) {
        self.url = url
    }

    private enum Outcome {
        case cleanClose
        case failure(String)
    }

    mutating func run() -> Int {
        guard connect() else { return 1 }
        if url.secure {
            if let why = startTLS() {
                close(fd)
                Console.err("ws-echo: tls: " + String(why))
                return 1
            }
        }
        let outcome = exchange()
        close(fd)
        switch outcome {
        case .cleanClose:
            return 0
        case .failure(let line):
            Console.err("ws-echo: " + String(line))
            return 1
        }
    }

    /// TLS over the connected socket, handshake driven to completion with poll (wss).
    private mutating func startTLS() -> String? {
        do {
            let client = try TLSClient(context: try TLSContext(settings: .fromEnvironment()), fd: fd,
                                       serverName: url.host, port: UInt16(truncatingIfNeeded: url.port))
            while true {
                let events: Int16
                switch try client.handshake() {
                case .done:
                    tls = client
                    return nil
                case .wantRead: events = Int16(POLLIN)
                case .wantWrite: events = Int16(POLLOUT)
                }
                var p = pollfd(fd: fd, events: events, revents: 0)
                if poll(&p, 1, WsEchoLimits.handshakeTimeoutMs) == 0 { return "handshake timed out" }
            }
        } catch {
            return error.message
        }
    }

    /// Resolves the host and connects to the first address that answers.
    private mutating func connect() -> Bool {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = WsEchoSocketABI.sockStream
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let rc = url.host.withCString { h in
            String(url.port).withCString { p in getaddrinfo(h, p, &hints, &list) }
        }
        guard rc == 0, let first = list else {
            Console.err("ws-echo: cannot resolve " + String(url.host) + " (getaddrinfo " + String(rc) + ")")
            return false
        }
        defer { freeaddrinfo(first) }
        var lastErrno: Int32 = 0
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            ai = a.pointee.ai_next
            let s = socket(a.pointee.ai_family,
                           WsEchoSocketABI.sockStream | WsEchoSocketABI.sockNonblock
                               | WsEchoSocketABI.sockCloexec, 0)
            if s < 0 { lastErrno = tether_errno(); continue }
            if CShims.connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 {
                fd = s
                return true
            }
            lastErrno = tether_errno()
            if lastErrno == EINPROGRESS {
                var p = pollfd(fd: s, events: Int16(POLLOUT), revents: 0)
                if poll(&p, 1, WsEchoLimits.connectTimeoutMs) == 1 {
                    var err: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    _ = getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len)
                    if err == 0 {
                        fd = s
                        return true
                    }
                    lastErrno = err
                } else {
                    lastErrno = ETIMEDOUT
                }
            }
            close(s)
        }
        Console.err("ws-echo: cannot connect to " + String(url.host) + ":" + String(url.port) + " (errno " + String(lastErrno) + ")")
        return false
    }

    /// The handshake and the echo loop.
    private mutating func exchange() -> Outcome {
        var leftover: [UInt8] = []
        if let failed = handshake(leftover: &leftover) { return failed }
        return echo(leftover: leftover)
    }

    /// Writes the request and reads until the response head is complete; nil once upgraded
    /// (`leftover`: the bytes after the head), else the failure.
    private mutating func handshake(leftover: inout [UInt8]) -> Outcome? {
        var keyBytes = [UInt8](repeating: 0, count: 16)
        _ = keyBytes.withUnsafeMutableBytes { tether_random_bytes($0.baseAddress, $0.count) }
        var handshake: WebSocketHandshake
        do throws(WebSocketHandshakeError) {
            handshake = try WebSocketHandshake(
                host: url.hostHeader, path: url.target, keyBytes: keyBytes,
                maxHeadSize: WsEchoLimits.websocket.maxHandshakeHeadSize)
        } catch {
            return .failure("handshake: " + String(error.rule))
        }
        pending = handshake.request

        var upgraded: [UInt8]? = nil
        while upgraded == nil {
            switch waitAndTransfer(timeoutMs: WsEchoLimits.handshakeTimeoutMs) {
            case .timeout: return .failure("handshake: no response in 45 s")
            case .error(let e): return .failure("handshake: socket errno " + String(e))
            case .eof: return .failure("handshake: server closed the connection")
            case .progress(let n):
                if n == 0 { continue }
                do throws(WebSocketHandshakeError) {
                    upgraded = try handshake.receive(readBuffer[0..<n])
                } catch {
                    return .failure("handshake: " + String(error.rule))
                }
            }
        }
        leftover = upgraded ?? []
        return nil
    }

    /// Echoes every message until the close handshake is done (or failed).
    private mutating func echo(leftover: [UInt8]) -> Outcome {
        var client = WebSocketClient(
            mode: .message, limits: WsEchoLimits.websocket, maskSource: KernelMaskSource(),
            leftover: leftover)
        var failure: String? = nil
        var sawClose = false
        while true {
            // Decode everything buffered, queueing echoes; the client answers pings and closes.
            if failure == nil && client.closeState != .closed {
                do throws(WebSocketError) {
                    while let event = try client.nextEvent() {
                        switch event {
                        case .text(let m): client.sendText(m)
                        case .binary(let m): client.sendBinary(m)
                        case .close: sawClose = true
                        default: break
                        }
                    }
                } catch {
                    failure = error.rule
                }
            }
            if client.hasPendingOutbound {
                if pending.isEmpty { pending = client.takeOutbound() } else { pending += client.takeOutbound() }
            }
            let finished = client.closeState == .closed
            if finished && pending.count == pendingOffset {
                // All sent: give the server a moment to close TCP first, then we are done.
                _ = shutdown(fd, WsEchoSocketABI.shutWrite)
                lingerUntilEOF()
                if let failure { return .failure(failure) }
                return sawClose ? .cleanClose : .failure("closed without close frame")
            }
            switch waitAndTransfer(timeoutMs: finished ? WsEchoLimits.closeLingerMs : -1) {
            case .timeout:
                if finished {
                    if let failure { return .failure(failure) }
                    return .failure("close frame not written in time")
                }
            case .error(let e):
                return .failure(failure ?? "socket errno " + String(e))
            case .eof:
                if let failure { return .failure(failure) }
                if finished && sawClose { return .cleanClose }
                return .failure("TCP closed without close frame (RFC 6455 7.1.5: 1006)")
            case .progress(let n):
                if n > 0 && !finished { client.receive(readBuffer[0..<n]) }
            }
        }
    }

    private enum Transfer {
        case progress(Int)
        case eof
        case timeout
        case error(Int32)
    }

    /// Waits for the socket, writes what it can of `pending`, reads what is there into
    /// `readBuffer` (returning the count).
    private mutating func waitAndTransfer(timeoutMs: Int32) -> Transfer {
        let wantWrite = pendingOffset < pending.count
        var p = pollfd(fd: fd, events: Int16(POLLIN) | (wantWrite ? Int16(POLLOUT) : 0), revents: 0)
        // Plaintext already decrypted inside TLS does not make the socket readable.
        let buffered = (tls?.bytesAvailable ?? 0) > 0
        var rc = poll(&p, 1, buffered ? 0 : timeoutMs)
        if buffered {
            rc = 1
            p.revents |= Int16(POLLIN)
        }
        if rc == 0 { return .timeout }
        if rc < 0 {
            let e = tether_errno()
            return e == EINTR ? .progress(0) : .error(e)
        }
        if let tls {
            return transferTLS(tls, canWrite: wantWrite && p.revents & Int16(POLLOUT) != 0,
                               canRead: p.revents & (Int16(POLLIN) | Int16(POLLHUP) | Int16(POLLERR)) != 0)
        }
        if wantWrite && p.revents & Int16(POLLOUT) != 0 {
            let n = pending.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + pendingOffset, raw.count - pendingOffset,
                     WsEchoSocketABI.msgNoSignal)
            }
            if n > 0 {
                pendingOffset += n
                if pendingOffset == pending.count {
                    pending.removeAll(keepingCapacity: true)
                    pendingOffset = 0
                }
            } else if n < 0 {
                let e = tether_errno()
                if e != EAGAIN && e != EINTR { return .error(e) }
            }
        }
        if p.revents & (Int16(POLLIN) | Int16(POLLHUP) | Int16(POLLERR)) != 0 {
            let n = readBuffer.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress, raw.count) }
            if n == 0 { return .eof }
            if n < 0 {
                let e = tether_errno()
                return e == EAGAIN || e == EINTR ? .progress(0) : .error(e)
            }
            return .progress(n)
        }
        return .progress(0)
    }

    /// `waitAndTransfer` through TLS (a write that asked to be repeated is repeated with the
    /// same queued bytes on the next pass).
    private mutating func transferTLS(_ tls: TLSClient, canWrite: Bool, canRead: Bool) -> Transfer {
        if pendingOffset < pending.count {
            let r = pending.withUnsafeBytes { raw in
                (try? tls.write(from: UnsafeRawBufferPointer(rebasing: raw[pendingOffset...]))) ?? .closed
            }
            switch r {
            case .bytes(let n):
                pendingOffset += n
                if pendingOffset == pending.count {
                    pending.removeAll(keepingCapacity: true)
                    pendingOffset = 0
                }
            case .wantRead, .wantWrite: break
            case .closed: return .error(EPIPE)
            }
        }
        guard canRead else { return .progress(0) }
        let r = readBuffer.withUnsafeMutableBytes { raw in (try? tls.read(into: raw)) ?? .closed }
        switch r {
        case .bytes(let n): return .progress(n)
        case .wantRead, .wantWrite: return .progress(0)
        case .closed: return .eof
        }
    }

    /// Reads and drops input until the server closes TCP or the linger time passes.
    private mutating func lingerUntilEOF() {
        while true {
            switch waitAndTransfer(timeoutMs: WsEchoLimits.closeLingerMs) {
            case .progress: continue
            case .eof, .timeout, .error: return
            }
        }
    }
}
#endif
