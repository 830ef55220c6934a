import TetherWire

/// One `POST /api/devices/auth` exchange, sans-I/O (PROTOCOL.md 4.1, 4.2, 11): builds the
/// request bytes with TetherWire's HTTP and API codecs, reads the response bytes the runtime
/// feeds it, and ends in a `DeviceAuthVerdict` for `TunnelLifecycle.authFinished`.
public struct DeviceAuthExchange {
    /// A device-auth answer is a few hundred bytes; anything far larger is refused.
    public static let maxResponseBodyBytes = 64 * 1024

    public let request: DeviceAuthRequest
    private var reader = HTTPAnswerReader(maxBodyBytes: DeviceAuthExchange.maxResponseBodyBytes)
    /// The parsed 200 answer (name, namespace, uid, status) once the verdict is `authenticated`.
    public private(set) var response: DeviceAuthResponse? = nil
    public private(set) var verdict: DeviceAuthVerdict? = nil

    public init(request: DeviceAuthRequest) { self.request = request }

    /// The request bytes, written in one go on a fresh HTTPS connection. `Content-Type` is
    /// required (the server answers 415 without it); no `Accept-Encoding` (we do not inflate);
    /// `Connection: close` because the next auth is hours away.
    public func requestBytes(server: HTTPServerURL, agentVersion: String) throws(HTTPError) -> [UInt8] {
        try ShellHubAPIRequest.encode("POST", "/api/devices/auth", server: server,
                                      agentVersion: agentVersion, json: request.encode())
    }

    /// Feeds response bytes; returns the verdict once the response is complete.
    public mutating func receive<C: Collection>(_ bytes: C) -> DeviceAuthVerdict? where C.Element == UInt8 {
        guard verdict == nil else { return verdict }
        return reader.receive(bytes).map { conclude(interpret($0)) }
    }

    /// The connection closed (EOF). A response cut short is a network failure.
    public mutating func connectionClosed() -> DeviceAuthVerdict {
        if let v = verdict { return v }
        return conclude(interpret(reader.finish()))
    }

    /// The connection failed before a complete answer (DNS, TCP, TLS, timeout).
    public mutating func networkFailed() -> DeviceAuthVerdict {
        if let v = verdict { return v }
        return conclude(.retry(.network, retryAfter: nil))
    }

    private mutating func interpret(_ result: HTTPAnswerReader.Result) -> DeviceAuthVerdict {
        guard case .complete(let head, let body) = result else { return .retry(.network, retryAfter: nil) }
        var token: String? = nil
        if head.statusCode == 200 {
            do {
                let r = try DeviceAuthResponse.parse(body)
                response = r
                token = r.token
            } catch {
                return .retry(.badResponse, retryAfter: nil)
            }
        }
        return DeviceAuthVerdict.classify(
            status: head.statusCode, token: token, retryAfterSeconds: HTTPAnswerReader.retryAfterSeconds(head))
    }

    private mutating func conclude(_ v: DeviceAuthVerdict) -> DeviceAuthVerdict {
        verdict = v
        return v
    }
}
