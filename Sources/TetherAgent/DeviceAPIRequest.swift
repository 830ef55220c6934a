import TetherWire

/// One body-less request of the device API, sans-I/O: `POST /api/devices/auth/challenge`
/// (anonymous), `POST /api/devices/auth/code` and `GET /api/devices/auth/status` (bearer).
/// Builds the request bytes, reads the answer the runtime feeds it, and ends in an `Answer`
/// that the endpoint's own reading (`ChallengeOutcome`, `LoginCodeOutcome`) interprets.
public struct DeviceAPIRequest {
    public enum Endpoint: Equatable {
        case challenge
        case loginCode(token: String)
        case authStatus(token: String)
    }

    /// What came back: an HTTP answer, or nothing usable (network, timeout, malformed).
    public enum Answer: Equatable {
        case http(status: Int, body: [UInt8])
        case network
    }

    /// These answers are a few hundred bytes.
    public static let maxResponseBodyBytes = 16 * 1024

    public let endpoint: Endpoint
    private var reader = HTTPAnswerReader(maxBodyBytes: DeviceAPIRequest.maxResponseBodyBytes)
    public private(set) var answer: Answer? = nil

    public init(_ endpoint: Endpoint) { self.endpoint = endpoint }

    /// The request bytes (`Content-Length: 0` on the POSTs, as the Go agent sends them).
    public func requestBytes(server: HTTPServerURL, agentVersion: String) throws(HTTPError) -> [UInt8] {
        switch endpoint {
        case .challenge:
            return try ShellHubAPIRequest.encode("POST", "/api/devices/auth/challenge", server: server,
                                                 agentVersion: agentVersion)
        case .loginCode(let token):
            return try ShellHubAPIRequest.encode("POST", "/api/devices/auth/code", server: server,
                                                 agentVersion: agentVersion, bearer: token)
        case .authStatus(let token):
            return try ShellHubAPIRequest.encode("GET", "/api/devices/auth/status", server: server,
                                                 agentVersion: agentVersion, bearer: token)
        }
    }

    public mutating func receive<C: Collection>(_ bytes: C) -> Answer? where C.Element == UInt8 {
        guard answer == nil else { return answer }
        return reader.receive(bytes).map { conclude($0) }
    }

    public mutating func connectionClosed() -> Answer {
        if let a = answer { return a }
        return conclude(reader.finish())
    }

    public mutating func networkFailed() -> Answer {
        if let a = answer { return a }
        answer = .network
        return .network
    }

    private mutating func conclude(_ r: HTTPAnswerReader.Result) -> Answer {
        let a: Answer
        switch r {
        case .complete(let head, let body): a = .http(status: head.statusCode, body: body)
        case .broken: a = .network
        }
        answer = a
        return a
    }
}

/// What the challenge request means for the next device auth.
public enum ChallengeOutcome: Equatable {
    /// Sign it and send it with the auth.
    case challenge(String)
    /// The server has no challenge endpoint (releases up to v0.27.0-rc.6 answer 404, or 405
    /// where the path meets `/devices/:uid/:status`): authenticate unsigned.
    case notOffered(status: Int)
    /// Failed as a device auth would (network, 429, 5xx, a 200 without a challenge): the
    /// lifecycle retries after its backoff.
    case failed(DeviceAuthVerdict)

    public init(_ answer: DeviceAPIRequest.Answer) {
        guard case .http(let status, let body) = answer else {
            self = .failed(.retry(.network, retryAfter: nil))
            return
        }
        switch status {
        case 200:
            if let c = try? DeviceAuthChallenge.parse(body) {
                self = .challenge(c.challenge)
            } else {
                self = .failed(.retry(.badResponse, retryAfter: nil))
            }
        case 429, 500...599:
            self = .failed(DeviceAuthVerdict.classify(status: status, token: nil))
        case 400...499:
            self = .notOffered(status: status)
        default:
            self = .failed(.retry(.refused(status), retryAfter: nil))
        }
    }
}
