/// Every timing rule of the agent in one declarative value, derived from the configuration:
/// how dials and API calls are retried, when re-auth happens, and how connections are kept
/// alive. The runtime builds it once and hands the parts to `TunnelLifecycle` and
/// `KeepaliveScheduler`.
public struct AgentPolicy: Equatable, Sendable {
    public var dialRetry: RetryPolicy
    public var apiRetry: RetryPolicy
    public var reauth: ReauthPolicy
    public var keepalive: KeepalivePolicy

    public init(dialRetry: RetryPolicy, apiRetry: RetryPolicy, reauth: ReauthPolicy, keepalive: KeepalivePolicy) {
        self.dialRetry = dialRetry
        self.apiRetry = apiRetry
        self.reauth = reauth
        self.keepalive = keepalive
    }

    public init(config: AgentConfig) {
        self.init(
            dialRetry: .tunnelDial, apiRetry: .api,
            reauth: ReauthPolicy(interval: .seconds(Int64(config.reauthIntervalSeconds))),
            keepalive: KeepalivePolicy(config: config))
    }

    /// A lifecycle that follows this policy.
    public func makeLifecycle() -> TunnelLifecycle {
        TunnelLifecycle(dialRetry: dialRetry, apiRetry: apiRetry, reauth: reauth)
    }
}
