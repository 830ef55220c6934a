import CShims
import TetherWire

/// Masks drawn from the kernel CSPRNG in blocks, so a frame costs no syscall.
public struct KernelMaskSource: WebSocketMaskSource {
    private var block = [UInt32](repeating: 0, count: 64)
    private var next = 64

    public init() {}

    public mutating func nextMaskKey() -> UInt32 {
        if next == block.count {
            _ = block.withUnsafeMutableBytes { tether_random_bytes($0.baseAddress, $0.count) }
            next = 0
        }
        defer { next += 1 }
        return block[next]
    }
}

/// Why a WebSocket link ended.
public enum LinkEnd: Equatable {
    /// The upgrade was answered with this status (401 bad token, 403 not accepted, 404...).
    case refused(status: Int)
    /// No 101 within `WebSocketLink.handshakeTimeoutMs`.
    case handshakeTimedOut
    /// The upgrade deadline could not be armed: the link never started.
    case noTimer
    /// More 307/308 answers than `WebSocketRedirect.maxHops`.
    case tooManyRedirects
    /// A 307/308 whose Location cannot be dialled.
    case unusableRedirect(status: Int)
    /// A 307/308 to a server of the other TLS-ness (never followed).
    case redirectChangesTLS(status: Int, to: String)
    /// More bytes queued than the link's send queue holds.
    case sendQueueOverflow
    /// The host or target cannot go in a request line.
    case badUpgradeRequest
    /// The upgrade answer broke RFC 6455 (other than by its status).
    case badUpgradeAnswer(WebSocketHandshakeError)
    /// A frame broke RFC 6455.
    case protocolError(WebSocketError)
    /// A close frame from the server, with its code if it gave one.
    case closedByServer(code: UInt16?)
    /// The connection under it ended: network, TLS, proxy (nil: EOF).
    case connection(LinkError?)

    public var text: String {
        switch self {
        case .refused(let s): return "server answered " + String(s)
        case .handshakeTimedOut: return "timed out (" + String(WebSocketLink.handshakeTimeoutMs / 1000) + " s) before 101"
        case .noTimer: return "event loop timer table full"
        case .tooManyRedirects: return "more than " + String(WebSocketRedirect.maxHops) + " redirects"
        case .unusableRedirect(let status): return "redirect (" + String(status) + ") to an unusable location"
        case .redirectChangesTLS(let status, let to):
            return "redirect (" + String(status) + ") to " + to + ": TLS would change"
        case .sendQueueOverflow: return "send queue overflow"
        case .badUpgradeRequest: return "bad upgrade request"
        case .badUpgradeAnswer(let e): return e.rule
        case .protocolError(let e): return e.rule
        case .closedByServer(let code): return code.map { "closed by server (" + String($0) + ")" } ?? "closed by server"
        case .connection(let e): return e?.message ?? "closed by server"
        }
    }
}

public protocol WebSocketLinkDelegate: AnyObject {
    func linkOpened(_ link: WebSocketLink)
    /// Payload bytes of binary frames (ShellHub's WebSockets are byte streams, PROTOCOL.md 5.1).
    func link(_ link: WebSocketLink, received bytes: [UInt8])
    /// The server pinged (already answered with a pong): proof the server is alive.
    func linkPinged(_ link: WebSocketLink)
    /// The server answered our ping: the path is alive.
    func linkPonged(_ link: WebSocketLink)
    /// The send queue has room again after being full: producers may resume.
    func linkDrained(_ link: WebSocketLink)
    /// Called once when the link is gone (not after a local `close()`).
    func linkEnded(_ link: WebSocketLink, _ end: LinkEnd)
    /// The upgrade was answered 307/308 and the link now dials `location` (for the log).
    func linkRedirected(_ link: WebSocketLink, status: Int, to location: String)
}

extension WebSocketLinkDelegate {
    public func linkRedirected(_ link: WebSocketLink, status: Int, to location: String) {}
}

/// A WebSocket client connection to the server as ShellHub's tunnels use it: the Go-style
/// upgrade request (with a bearer token on control connections, none on v1 dial-backs), then
/// binary frames in stream mode, every ping answered at once. Used for the v2 tunnel, the v1
/// control connection and each v1 dial-back.
public final class WebSocketLink: LinkDelegate {
    public enum State { case connecting, upgrading, open, closed }

    /// From dial to 101, as the Go agent's dialer allows.
    public static let handshakeTimeoutMs: UInt64 = 45_000

    public let label: String
    public private(set) var state = State.connecting
    private(set) var connection: Link!
    private let loop: EventLoop
    private var handshakeTimer = TimerToken.none
    /// Frame bytes the link's send queue could not take yet; they go first, as much as fits
    /// each time it has room (`linkWritable`).
    private var stalled: [UInt8] = []
    /// Inside `flush` (the link may call back into it while taking bytes).
    private var flushing = false
    /// The link said "writable" while `flush` ran: the drained notice is owed.
    private var drainOwed = false
    private var handshake: WebSocketHandshake?
    // What a 307/308 answer needs to dial again with the same request headers.
    private var options: LinkOptions
    private let resolver: Resolver?
    private var server: HTTPServerURL
    private let extraHeaders: [WebSocketHeader]
    private var redirects = 0
    // Mutated in place (never copied out) so its buffers are not copied on write.
    private var client = WebSocketClient(mode: .stream, maskSource: KernelMaskSource())
    private unowned(unsafe) var delegate: WebSocketLinkDelegate?
    private let tcpKeepaliveSeconds: Int
    /// Set by the owner: e.g. the slot index of a v1 dial-back.
    public var tag = -1

    /// A link to `options.host:port` (TLS, proxy and the fixed send queue as `options` say)
    /// upgraded at `target` with `Host: hostHeader`; `bearer` adds `Authorization`.
    public init(loop: EventLoop, resolver: Resolver?, options: LinkOptions, hostHeader: String,
                target: String, bearer: String?, tcpKeepaliveSeconds: Int, label: String,
                delegate: WebSocketLinkDelegate) {
        self.label = label
        self.loop = loop
        self.tcpKeepaliveSeconds = tcpKeepaliveSeconds
        self.delegate = delegate
        self.options = options
        self.resolver = resolver
        server = HTTPServerURL(isTLS: options.tls != nil, host: options.host, port: options.port)
        var extra: [WebSocketHeader] = []
        if let bearer { extra.append(WebSocketHeader(name: "Authorization", value: "Bearer " + bearer)) }
        extraHeaders = extra
        handshake = WebSocketLink.handshake(hostHeader, target, extra)
        connection = Link(loop: loop, resolver: resolver, options: options, delegate: self)
    }

    /// A fresh key each time. A host or target that cannot go in a request line gives nil:
    /// the link then ends with "bad upgrade request" once connected.
    private static func handshake(_ host: String, _ target: String, _ extra: [WebSocketHeader]) -> WebSocketHandshake? {
        var key = [UInt8](repeating: 0, count: 16)
        _ = key.withUnsafeMutableBytes { tether_random_bytes($0.baseAddress, 16) }
        return try? WebSocketHandshake(host: host, path: target, keyBytes: key, extraHeaders: extra)
    }

    public func start() {
        armHandshakeTimer()
        if state != .closed { connection.open() }
    }

    private func armHandshakeTimer() {
        loop.cancel(handshakeTimer)
        do {
            handshakeTimer = try loop.schedule(afterMilliseconds: WebSocketLink.handshakeTimeoutMs) { [self] in
                handshakeTimer = .none
                end(.handshakeTimedOut)
            }
        } catch {
            // No deadline for the upgrade: not started (told now, as a full table cannot defer).
            end(.noTimer)
        }
    }

    /// 307/308: dial `location` with the same headers, on a new connection, under a new
    /// upgrade deadline, as ShellHub's agent does. Bounded; never from TLS to plaintext (nor the
    /// other way: the configured server decides whether the device speaks TLS at all).
    private func follow(_ status: Int, _ location: String) {
        guard redirects < WebSocketRedirect.maxHops else {
            return end(.tooManyRedirects)
        }
        guard let r = WebSocketRedirect.resolve(location, from: server) else {
            return end(.unusableRedirect(status: status))
        }
        guard r.server.isTLS == server.isTLS else {
            return end(.redirectChangesTLS(status: status, to: r.server.text))
        }
        redirects += 1
        if r.server.host != server.host { options.serverName = nil }
        server = r.server
        options.host = r.server.host
        options.port = r.server.port
        connection.abort()
        handshake = WebSocketLink.handshake(r.server.hostHeader, r.target, extraHeaders)
        connection = Link(loop: loop, resolver: resolver, options: options, delegate: self)
        state = .connecting
        delegate?.linkRedirected(self, status: status, to: r.server.text + r.target)
        if state == .connecting { start() }
    }

    public var isOpen: Bool { state == .open }
    public var bytesIn: UInt64 { connection.bytesReceived }
    public var bytesOut: UInt64 { connection.bytesSent }
    /// Room for more outgoing bytes (frames included) before back-pressure.
    public var sendCapacity: Int { stalled.isEmpty ? connection.outputSpace : 0 }
    /// Payload bytes one `send` can take without back-pressure: `sendCapacity` less room for
    /// the frame header and a control frame.
    public var payloadCapacity: Int { max(sendCapacity - WebSocketLink.frameHeadroom, 0) }
    public static let frameHeadroom = 64

    /// Sends bytes as one binary frame. True when the whole frame is in the link's queue;
    /// false when (part of) it waits for room (it still goes out, in order, and `linkDrained`
    /// follows) or the link is not open or overflowed (then it ends). Producers stop while
    /// `sendCapacity` is 0.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        guard state == .open else { return false }
        _ = client.sendBinary(bytes)
        return flush()
    }

    /// Back-pressure: stop reading while a slow local end drains.
    public func setReadPaused(_ paused: Bool) {
        if paused { connection.pauseReading() } else { connection.resumeReading() }
    }

    /// A WebSocket ping (an idle-connection keepalive chosen by the keepalive policy).
    public func sendPing() {
        guard state == .open else { return }
        _ = client.sendPing()
        _ = flush()
    }

    /// Closes at once, without a close handshake (as the Go side does); no delegate call.
    public func close() {
        guard state != .closed else { return }
        state = .closed
        loop.cancel(handshakeTimer)
        connection.abort()
    }

    private func end(_ why: LinkEnd) {
        guard state != .closed else { return }
        close()
        delegate?.linkEnded(self, why)
    }

    /// Hands queued frames to the link, as many bytes as its queue takes; the rest waits in
    /// `stalled` (bounded: callers stop producing while `sendCapacity` is 0) for the next
    /// `linkWritable`. A frame larger than the link's whole queue thus still goes out.
    /// True when nothing waits.
    @discardableResult
    private func flush() -> Bool {
        if client.hasPendingOutbound { stalled.append(contentsOf: client.takeOutbound()) }
        if stalled.isEmpty { return true }
        if stalled.count > WebSocketLink.maxStalled {
            end(.sendQueueOverflow)
            return false
        }
        // Taking bytes may make the link write and call `linkWritable` back: that call only
        // notes the notice; this loop goes on with `stalled` consistent.
        if flushing { return false }
        flushing = true
        while !stalled.isEmpty && state == .open {
            let n = stalled.withUnsafeBytes { connection.sendPrefix($0) }
            if n == 0 { break }
            stalled.removeFirst(n)
        }
        flushing = false
        if drainOwed && stalled.isEmpty {
            // The notice the link gave inside the loop, passed on from the loop (the caller
            // may be the delegate itself, in the middle of sending).
            drainOwed = false
            let told = (try? loop.schedule(afterMilliseconds: 0) { [self] in
                if state == .open && stalled.isEmpty { delegate?.linkDrained(self) }
            }) != nil
            if !told { delegate?.linkDrained(self) }
        }
        return stalled.isEmpty
    }

    /// Frames beyond the link's queue: a few control frames and one data frame at most.
    public static let maxStalled = 256 * 1024

    // MARK: LinkDelegate

    public func linkOpened(_ connection: Link) {
        // Kernel keepalive probes only when configured: the application pings are enough.
        if tcpKeepaliveSeconds > 0 {
            _ = Socket.setKeepAlive(connection.fd, idle: Int32(tcpKeepaliveSeconds))
        }
        guard let h = handshake else {
            end(.badUpgradeRequest)
            return
        }
        state = .upgrading
        connection.send(h.request)
    }

    public func link(_ connection: Link, received bytes: UnsafeRawBufferPointer) {
        switch state {
        case .upgrading:
            guard handshake != nil else { return }
            do {
                if let leftover = try handshake!.receive(bytes) {
                    handshake = nil
                    loop.cancel(handshakeTimer)
                    handshakeTimer = .none
                    client = WebSocketClient(mode: .stream, maskSource: KernelMaskSource(), leftover: leftover)
                    state = .open
                    delegate?.linkOpened(self)
                    if state == .open { drainEvents() }
                }
            } catch {
                if case .unexpectedStatus(let code, let location) = error {
                    if code == 307 || code == 308, let location { return follow(code, location) }
                    end(.refused(status: code))
                } else {
                    end(.badUpgradeAnswer(error))
                }
            }
        case .open:
            client.receive(bytes)
            drainEvents()
        default:
            break
        }
    }

    private func drainEvents() {
        while state == .open {
            let event: WebSocketEvent?
            do {
                event = try client.nextEvent()
            } catch {
                _ = flush()
                end(.protocolError(error))
                return
            }
            guard let event else { return }
            switch event {
            case .data(let bytes), .binary(let bytes):
                delegate?.link(self, received: bytes)
            case .ping:
                _ = flush()  // the client queued the pong
                delegate?.linkPinged(self)
            case .pong:
                delegate?.linkPonged(self)
            case .text:
                break
            case .close(let code, _):
                _ = flush()
                end(.closedByServer(code: code))
            }
        }
    }

    public func linkWritable(_ connection: Link) {
        guard state == .open else { return }
        if flushing {
            drainOwed = true
            return
        }
        drainOwed = false
        if flush() { delegate?.linkDrained(self) }
    }

    public func linkClosed(_ connection: Link, error: LinkError?) {
        end(.connection(error))
    }
}
