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
        timer = (try? loop.schedule(afterMilliseconds: APIExchange.timeoutMs) { [self] in
            timer = .none
            end("timed out (\(APIExchange.timeoutMs / 1000) s)")
        }) ?? .none
        l.open()
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

/// `POST /api/devices/auth` over an `APIExchange`, interpreted by TetherAgent's
/// `DeviceAuthExchange` (PROTOCOL.md 4.2); the completion gets the verdict and, on success,
/// the parsed answer (device name, namespace, uid).
final class DeviceAuthCall {
    private var exchange: DeviceAuthExchange
    private var api: APIExchange?
    private var completion: ((DeviceAuthVerdict, DeviceAuthResponse?, String?) -> Void)?
    /// Why the exchange failed below HTTP (DNS, TCP, TLS, timeout), for the log.
    private var failure: String?

    /// The completion gets the verdict, the parsed 200 answer, and the network failure text.
    init(context: RuntimeContext, request: DeviceAuthRequest,
         completion: @escaping (DeviceAuthVerdict, DeviceAuthResponse?, String?) -> Void) {
        exchange = DeviceAuthExchange(request: request)
        self.completion = completion
        let bytes = (try? exchange.requestBytes(server: context.config.server,
                                                agentVersion: context.versionString)) ?? []
        api = APIExchange(context: context, request: bytes, onData: { [self] data in
            guard let v = self.exchange.receive(data) else { return false }
            self.finish(v)
            return true
        }, onEnd: { [self] failure in
            self.failure = failure
            self.finish(failure == nil ? self.exchange.connectionClosed() : self.exchange.networkFailed())
        })
    }

    func cancel() {
        completion = nil
        api?.cancel()
        api = nil
    }

    private func finish(_ verdict: DeviceAuthVerdict) {
        guard let done = completion else { return }
        completion = nil
        api = nil
        done(verdict, exchange.response, failure)
    }
}
