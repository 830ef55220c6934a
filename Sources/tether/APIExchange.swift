import TetherAgent
import TetherPlatform
import TetherWire

/// One HTTP/1.1 request to the ShellHub API on its own connection (`Connection: close`; the
/// TLS session is resumed from the context's cache, so a re-auth costs no certificate chain).
/// Transport only: the request bytes go out, the response bytes go to `onData` (which returns
/// true once it has its whole answer), and `onEnd` runs once with nil at EOF or a reason on a
/// failure. Neither runs after `cancel()`.
final class APIExchange: ServerConnectionDelegate {
    static let timeoutMs: UInt64 = 30_000

    private var connection: ServerConnection?
    private var request: [UInt8]
    private var onData: ((UnsafeRawBufferPointer) -> Bool)?
    private var onEnd: ((String?) -> Void)?

    init(context: RuntimeContext, request: [UInt8], onData: @escaping (UnsafeRawBufferPointer) -> Bool,
         onEnd: @escaping (String?) -> Void) {
        self.request = request
        self.onData = onData
        self.onEnd = onEnd
        let c = ServerConnection(
            loop: context.loop, resolver: context.resolver, host: context.config.server.host,
            port: context.config.server.port, tls: context.tls, label: "api", delegate: self)
        connection = c
        c.start(timeoutMs: APIExchange.timeoutMs)
    }

    func cancel() {
        onData = nil
        onEnd = nil
        connection?.close()
        connection = nil
    }

    func connectionOpened(_ connection: ServerConnection) {
        connection.send(request)
        request = []
    }

    func connection(_ connection: ServerConnection, received bytes: UnsafeRawBufferPointer) {
        guard let onData else { return }
        if onData(bytes) { cancel() }
    }

    func connectionClosed(_ connection: ServerConnection, reason: String) {
        let end = onEnd
        cancel()
        // The server closing after a complete answer is the normal end of `Connection: close`.
        end?(reason == ServerConnection.closedByServer ? nil : reason)
    }
}

/// `POST /api/devices/auth` over an `APIExchange`, interpreted by TetherAgent's
/// `DeviceAuthExchange` (PROTOCOL.md 4.2); the completion gets the verdict and, on success,
/// the parsed answer (device name, namespace, uid).
final class DeviceAuthCall {
    private var exchange: DeviceAuthExchange
    private var api: APIExchange?
    private var completion: ((DeviceAuthVerdict, DeviceAuthResponse?) -> Void)?

    init(context: RuntimeContext, request: DeviceAuthRequest,
         completion: @escaping (DeviceAuthVerdict, DeviceAuthResponse?) -> Void) {
        exchange = DeviceAuthExchange(request: request)
        self.completion = completion
        let bytes = (try? exchange.requestBytes(server: context.config.server,
                                                agentVersion: context.versionString)) ?? []
        api = APIExchange(context: context, request: bytes, onData: { [self] data in
            guard let v = self.exchange.receive(data) else { return false }
            self.finish(v)
            return true
        }, onEnd: { [self] failure in
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
        done(verdict, exchange.response)
    }
}
