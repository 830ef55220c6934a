/// The hub's public-key oracle (POST /api/auth/ssh), implemented by the runtime. The call is
/// asynchronous: `start` returns at once and the runtime later calls `ticket.resolve(...)` from
/// its own loop (never from inside a libssh call). A connection makes at most
/// `SSHLimits.oracleCallsPerConnection` calls and caches the verdict between the query and the
/// signed request.
public protocol PublicKeyOracle: AnyObject {
    func start(_ request: PublicKeyOracleRequest, ticket: PublicKeyOracleTicket)
}

/// What the runtime posts: `{"fingerprint": fingerprint, "data": data}`.
public struct PublicKeyOracleRequest {
    public var fingerprint: String
    public var data: String
    public var user: String
}

/// The answer slot for one oracle call. `resolve(signatureBase64:)` with the response's
/// `signature`, or nil for 404/any failure. Resolving a ticket whose connection is gone is
/// harmless.
public final class PublicKeyOracleTicket {
    var onResolve: ((String?) -> Void)?

    init(onResolve: @escaping (String?) -> Void) { self.onResolve = onResolve }

    public func resolve(signatureBase64: String?) {
        guard let done = onResolve else { return }
        onResolve = nil
        done(signatureBase64)
    }

    /// Drops the connection's interest (connection closed first).
    func cancel() { onResolve = nil }

    public var isPending: Bool { onResolve != nil }
}
