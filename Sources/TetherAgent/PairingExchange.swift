import TetherWire

/// One request of tenant-less pairing (PROTOCOL.md 4.6), sans-I/O: `POST /api/devices/pairing`
/// or `GET /api/devices/pairing/<code>/status`, read into a `PairingOutcome`.
public struct PairingExchange {
    public static let maxResponseBodyBytes = 16 * 1024

    public enum Request: Equatable {
        case create(PairingRequest)
        case status(code: String)
    }

    public let request: Request
    private var reader = HTTPAnswerReader(maxBodyBytes: PairingExchange.maxResponseBodyBytes)
    public private(set) var outcome: PairingOutcome? = nil

    public init(_ request: Request) { self.request = request }

    public func requestBytes(server: HTTPServerURL, agentVersion: String) throws(HTTPError) -> [UInt8] {
        switch request {
        case .create(let body):
            return try ShellHubAPIRequest.encode("POST", "/api/devices/pairing", server: server,
                                                 agentVersion: agentVersion, json: body.encode())
        case .status(let code):
            guard PairingFlow.isValidCode(code) else { throw .invalidRequestField("pairing code") }
            return try ShellHubAPIRequest.encode("GET", "/api/devices/pairing/" + code + "/status",
                                                 server: server, agentVersion: agentVersion)
        }
    }

    public mutating func receive<C: Collection>(_ bytes: C) -> PairingOutcome? where C.Element == UInt8 {
        guard outcome == nil else { return outcome }
        return reader.receive(bytes).map { conclude(Self.interpret($0)) }
    }

    public mutating func connectionClosed() -> PairingOutcome {
        if let o = outcome { return o }
        return conclude(Self.interpret(reader.finish()))
    }

    public mutating func networkFailed() -> PairingOutcome {
        if let o = outcome { return o }
        return conclude(.retry(.network, retryAfter: nil))
    }

    private mutating func conclude(_ o: PairingOutcome) -> PairingOutcome {
        outcome = o
        return o
    }

    static func interpret(_ result: HTTPAnswerReader.Result) -> PairingOutcome {
        guard case .complete(let head, let body) = result else { return .retry(.network, retryAfter: nil) }
        switch head.statusCode {
        case 200, 201:
            guard let answer = try? PairingAnswer.parse(body) else { return .retry(.badResponse, retryAfter: nil) }
            return .answer(answer)
        case 404:
            return .unknownCode
        case 429, 503:
            let after = HTTPAnswerReader.retryAfterSeconds(head).map { Millis($0) * 1000 }
            return .retry(head.statusCode == 429 ? .rateLimited : .serverError(head.statusCode), retryAfter: after)
        case 500...599:
            return .retry(.serverError(head.statusCode), retryAfter: nil)
        default:
            return .retry(.refused(head.statusCode), retryAfter: nil)
        }
    }
}

/// What one pairing request came to.
public enum PairingOutcome: Equatable, Sendable {
    case answer(PairingAnswer)
    /// 404 on the status route: the code expired or never existed.
    case unknownCode
    /// No usable answer: try again after a backoff.
    case retry(RetryCause, retryAfter: Millis?)
}
