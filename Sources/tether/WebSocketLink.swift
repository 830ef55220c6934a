import CShims
import TetherAgent
import TetherPlatform
import TetherWire

/// Masks drawn from the kernel CSPRNG in blocks, so a frame costs no syscall.
struct KernelMaskSource: WebSocketMaskSource {
    private var block = [UInt32](repeating: 0, count: 64)
    private var next = 64

    init() {}

    mutating func nextMaskKey() -> UInt32 {
        if next == block.count {
            _ = block.withUnsafeMutableBytes { tether_random_bytes($0.baseAddress, $0.count) }
            next = 0
        }
        defer { next += 1 }
        return block[next]
    }
}

/// Why a WebSocket link ended.
enum LinkEnd: Equatable {
    /// The upgrade was answered with this status (401 bad token, 403 not accepted, 404...).
    case refused(status: Int)
    /// Anything else: network, TLS, protocol error, EOF, close frame, local close.
    case failed(String)

    var text: String {
        switch self {
        case .refused(let s): return "server answered \(s)"
        case .failed(let why): return why
        }
    }
}

protocol WebSocketLinkDelegate: AnyObject {
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
}

/// A WebSocket client connection to the server as ShellHub's tunnels use it: the Go-style
/// upgrade request (with a bearer token on control connections, none on v1 dial-backs), then
/// binary frames in stream mode, every ping answered at once. Used for the v2 tunnel, the v1
/// control connection and each v1 dial-back.
final class WebSocketLink: LinkDelegate {
    enum State { case connecting, upgrading, open, closed }

    /// From dial to 101, as the Go agent's dialer allows.
    static let handshakeTimeoutMs: UInt64 = 45_000

    let label: String
    private(set) var state = State.connecting
    private var connection: Link!
    private let loop: EventLoop
    private var handshakeTimer = TimerToken.none
    /// Frames the full send queue refused; written first when it drains (`linkWritable`).
    private var stalled: [UInt8] = []
    private var handshake: WebSocketHandshake?
    // Mutated in place (never copied out) so its buffers are not copied on write.
    private var client = WebSocketClient(mode: .stream, maskSource: KernelMaskSource())
    private unowned(unsafe) var delegate: WebSocketLinkDelegate?
    private let tcpKeepaliveSeconds: Int
    /// Set by the owner: e.g. the slot index of a v1 dial-back.
    var tag = -1

    /// `queue` is the fixed send queue of the underlying link.
    init(context: RuntimeContext, target: String, bearer: String?, label: String, queue: Int,
         delegate: WebSocketLinkDelegate) {
        self.label = label
        loop = context.loop
        tcpKeepaliveSeconds = context.config.tcpKeepaliveSeconds
        self.delegate = delegate
        var extra: [WebSocketHeader] = []
        if let bearer { extra.append(WebSocketHeader(name: "Authorization", value: "Bearer " + bearer)) }
        var key = [UInt8](repeating: 0, count: 16)
        _ = key.withUnsafeMutableBytes { tether_random_bytes($0.baseAddress, 16) }
        handshake = try? WebSocketHandshake(
            host: context.config.server.hostHeader, path: target, keyBytes: key, extraHeaders: extra)
        connection = Link(loop: context.loop, resolver: context.resolver,
                          options: context.linkOptions(queue: queue), delegate: self)
    }

    func start() {
        do {
            handshakeTimer = try loop.schedule(afterMilliseconds: WebSocketLink.handshakeTimeoutMs) { [self] in
                handshakeTimer = .none
                end(.failed("timed out (\(WebSocketLink.handshakeTimeoutMs / 1000) s) before 101"))
            }
        } catch {
            // No deadline for the upgrade: not started (told now, as a full table cannot defer).
            end(.failed("event loop timer table full"))
            return
        }
        connection.open()
    }

    var isOpen: Bool { state == .open }
    var bytesIn: UInt64 { connection.bytesReceived }
    var bytesOut: UInt64 { connection.bytesSent }
    /// Room for more outgoing bytes (frames included) before back-pressure.
    var sendCapacity: Int { stalled.isEmpty ? connection.outputSpace : 0 }

    /// Sends bytes as one binary frame. False when the send queue is full.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        guard state == .open else { return false }
        _ = client.sendBinary(bytes)
        return flush()
    }

    /// Back-pressure: stop reading while a slow local end drains.
    func setReadPaused(_ paused: Bool) {
        if paused { connection.pauseReading() } else { connection.resumeReading() }
    }

    /// A WebSocket ping (an idle-connection keepalive chosen by the keepalive policy).
    func sendPing() {
        guard state == .open else { return }
        _ = client.sendPing()
        _ = flush()
    }

    /// Closes at once, without a close handshake (as the Go side does); no delegate call.
    func close() {
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

    /// Hands queued frames to the link. Frames the link's queue cannot take wait in `stalled`
    /// (bounded: callers stop producing while `sendCapacity` is 0) until `linkWritable`.
    @discardableResult
    private func flush() -> Bool {
        if client.hasPendingOutbound { stalled.append(contentsOf: client.takeOutbound()) }
        if stalled.isEmpty { return true }
        if stalled.count > WebSocketLink.maxStalled {
            end(.failed("send queue overflow"))
            return false
        }
        if connection.send(stalled) { stalled.removeAll(keepingCapacity: true) }
        return true
    }

    /// Frames beyond the link's queue: a few control frames and one data frame at most.
    static let maxStalled = 256 * 1024

    // MARK: LinkDelegate

    func linkOpened(_ connection: Link) {
        // Kernel keepalive probes only when configured: the application pings are enough.
        if tcpKeepaliveSeconds > 0 {
            _ = Socket.setKeepAlive(connection.fd, idle: Int32(tcpKeepaliveSeconds))
        }
        guard let h = handshake else {
            end(.failed("bad upgrade request"))
            return
        }
        state = .upgrading
        connection.send(h.request)
    }

    func link(_ connection: Link, received bytes: UnsafeRawBufferPointer) {
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
                if case .unexpectedStatus(let code, _) = error {
                    end(.refused(status: code))
                } else {
                    end(.failed(error.rule))
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
                end(.failed(error.rule))
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
                end(.failed(code.map { "closed by server (\($0))" } ?? "closed by server"))
            }
        }
    }

    func linkWritable(_ connection: Link) {
        guard state == .open else { return }
        if flush() && stalled.isEmpty { delegate?.linkDrained(self) }
    }

    func linkClosed(_ connection: Link, error: LinkError?) {
        end(.failed(error?.message ?? "closed by server"))
    }
}
