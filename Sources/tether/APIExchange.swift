import TetherAgent
import TetherPlatform
import TetherWire

/// One HTTP/1.1 request to the ShellHub API on its own `Link` (`Connection: close`; the TLS
/// session is resumed from the context's cache, so a re-auth costs no certificate chain).
/// Transport only: the request bytes go out, the response bytes go to `onData` (which returns
/// true once it has its whole answer), and `onEnd` runs once with nil at EOF or a reason on a
/// failure. The whole exchange is bounded by `timeoutMs`, so a server that accepts and then
/// stays silent is dropped. Neither callback runs after `cancel()`.
final class APIExchange: LinkDelegate {
    static let timeoutMs: UInt64 = 30_000
    static let queueBytes = 16 * 1024

    private let loop: EventLoop
    private var link: Link?
    private var request: [UInt8]
    private var onData: ((UnsafeRawBufferPointer) -> Bool)?
    private var onEnd: ((String?) -> Void)?
    private var timer = TimerToken.none

    init(context: RuntimeContext, request: [UInt8], onData: @escaping (UnsafeRawBufferPointer) -> Bool,
         onEnd: @escaping (String?) -> Void) {
        loop = context.loop
        self.request = request
        self.onData = onData
        self.onEnd = onEnd
        let l = Link(loop: context.loop, resolver: context.resolver,
                     options: context.linkOptions(queue: max(APIExchange.queueBytes, request.count)),
                     delegate: self)
        link = l
    }

    /// Opens the connection under its deadline; without a timer for it, ends at once (the
    /// owner already holds the exchange, so `onEnd` may run inside this call).
    func start() {
        do {
            timer = try loop.schedule(afterMilliseconds: APIExchange.timeoutMs) { [self] in
                timer = .none
                end("timed out (" + String(APIExchange.timeoutMs / 1000) + " s)")
            }
        } catch {
            end("event loop timer table full")
            return
        }
        link?.open()
    }

    func cancel() {
        onData = nil
        onEnd = nil
        loop.cancel(timer)
        timer = .none
        link?.abort()
        link = nil
    }

    private func end(_ failure: String?) {
        let done = onEnd
        cancel()
        done?(failure)
    }

    func linkOpened(_ link: Link) {
        link.send(request)
        request = []
    }

    func link(_ link: Link, received bytes: UnsafeRawBufferPointer) {
        guard let onData else { return }
        if onData(bytes) { cancel() }
    }

    func linkWritable(_ link: Link) {}

    func linkClosed(_ link: Link, error: LinkError?) {
        // The server closing after a complete answer is the normal end of `Connection: close`.
        end(error?.message)
    }
}

/// A sans-I/O API exchange of TetherAgent (device auth, pairing) as `APICall` drives it.
protocol APIAnswer {
    associatedtype Outcome
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Outcome?
    mutating func connectionClosed() -> Outcome
    mutating func networkFailed() -> Outcome
}

extension DeviceAuthExchange: APIAnswer {
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> DeviceAuthVerdict? { receive(bytes) }
}

extension DeviceAPIRequest: APIAnswer {
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Answer? { receive(bytes) }
}

extension PairingExchange: APIAnswer {
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> PairingOutcome? { receive(bytes) }
}

/// One request of a TetherAgent exchange over an `APIExchange`: `POST /api/devices/auth`
/// (`DeviceAuthExchange`, PROTOCOL.md 4.2) or a pairing request (`PairingExchange`, 4.6). The
/// completion gets the outcome, the exchange (for the parsed answer) and the network failure
/// text, once, and never after `cancel()`.
final class APICall<X: APIAnswer> {
    private var exchange: X
    private var api: APIExchange?
    private var completion: ((X.Outcome, X, String?) -> Void)?
    /// Why the exchange failed below HTTP (DNS, TCP, TLS, timeout), for the log.
    private var failure: String?

    init(context: RuntimeContext, exchange: X, request bytes: [UInt8],
         completion: @escaping (X.Outcome, X, String?) -> Void) {
        self.exchange = exchange
        self.completion = completion
        api = APIExchange(context: context, request: bytes, onData: { [self] data in
            guard let v = self.exchange.feed(data) else { return false }
            self.finish(v)
            return true
        }, onEnd: { [self] failure in
            self.failure = failure
            self.finish(failure == nil ? self.exchange.connectionClosed() : self.exchange.networkFailed())
        })
    }

    /// Sends the request (after the owner stored the call: a failure may complete inside).
    func start() { api?.start() }

    func cancel() {
        completion = nil
        api?.cancel()
        api = nil
    }

    private func finish(_ outcome: X.Outcome) {
        guard let done = completion else { return }
        completion = nil
        api = nil
        done(outcome, exchange, failure)
    }
}

typealias DeviceAuthCall = APICall<DeviceAuthExchange>
typealias PairingCall = APICall<PairingExchange>
typealias DeviceAPICall = APICall<DeviceAPIRequest>

extension APICall where X == DeviceAPIRequest {
    /// A body-less device API request (challenge, login code, status); the completion gets
    /// the answer and the network failure text.
    convenience init(context: RuntimeContext, endpoint: DeviceAPIRequest.Endpoint,
                     completion: @escaping (DeviceAPIRequest.Answer, String?) -> Void) {
        let x = DeviceAPIRequest(endpoint)
        let bytes = (try? x.requestBytes(server: context.config.server, agentVersion: context.versionString)) ?? []
        self.init(context: context, exchange: x, request: bytes) { a, _, f in completion(a, f) }
    }
}

extension APICall where X == DeviceAuthExchange {
    /// `POST /api/devices/auth`; the completion gets the verdict, the parsed 200 answer, and
    /// the network failure text.
    convenience init(context: RuntimeContext, request: DeviceAuthRequest,
                     completion: @escaping (DeviceAuthVerdict, DeviceAuthResponse?, String?) -> Void) {
        let x = DeviceAuthExchange(request: request)
        let bytes = (try? x.requestBytes(server: context.config.server, agentVersion: context.versionString)) ?? []
        self.init(context: context, exchange: x, request: bytes) { v, x, f in completion(v, x.response, f) }
    }
}

extension APICall where X == PairingExchange {
    /// A pairing request; the completion gets the outcome and the network failure text.
    convenience init(context: RuntimeContext, request: PairingExchange.Request,
                     completion: @escaping (PairingOutcome, String?) -> Void) {
        let x = PairingExchange(request)
        guard let bytes = try? x.requestBytes(server: context.config.server, agentVersion: context.versionString)
        else {
            // Only a code that is not [A-Z0-9] gets here: treat it as unknown, never send it.
            self.init(context: context, exchange: x, request: []) { _, _, f in completion(.unknownCode, f) }
            return
        }
        self.init(context: context, exchange: x, request: bytes) { o, _, f in completion(o, f) }
    }
}
