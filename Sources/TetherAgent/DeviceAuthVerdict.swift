/// What an answer to `POST /api/devices/auth` means for the agent (PROTOCOL.md 4.1, 4.2, 11).
public enum DeviceAuthVerdict: Equatable, Sendable {
    /// 200: registered; the token authorises the tunnel.
    case authenticated(token: String)
    /// 401: the device was removed from its namespace. Stop serving; a paired device goes
    /// back to pairing (the runtime deletes `<key>.tenant`).
    case deviceRemoved
    /// Anything else: try again after a backoff (at least `retryAfter` if the server said so).
    case retry(RetryCause, retryAfter: Millis?)

    /// Classifies an HTTP status (the body is parsed only for 200, by the caller).
    /// `retryAfterSeconds` is the `Retry-After` header of a 429 or 503, if present.
    public static func classify(
        status: Int, token: String?, retryAfterSeconds: Int? = nil
    ) -> DeviceAuthVerdict {
        switch status {
        case 200:
            guard let token, !token.isEmpty else { return .retry(.badResponse, retryAfter: nil) }
            return .authenticated(token: token)
        case 401:
            return .deviceRemoved
        case 429, 503:
            let after = retryAfterSeconds.map { Millis($0) * 1000 }
            return .retry(status == 429 ? .rateLimited : .serverError(status), retryAfter: after)
        case 500...599:
            return .retry(.serverError(status), retryAfter: nil)
        default:
            return .retry(.refused(status), retryAfter: nil)
        }
    }
}

/// Why a device auth will be retried; the runtime logs it once per change.
public enum RetryCause: Equatable, Sendable {
    /// No HTTP answer: DNS, TCP, TLS or a timeout.
    case network
    /// 429.
    case rateLimited
    /// 5xx.
    case serverError(Int)
    /// Another 4xx (or a 1xx/3xx): 400 bad body, 403, 404 unknown tenant, 415...
    case refused(Int)
    /// 200 without a usable token.
    case badResponse
}
