import TetherAgent
import TetherPlatform
import TetherWire

/// What every runtime component shares: the loop, the resolver, the TLS context, the
/// configuration, the log, and the device's identity as the server knows it.
final class RuntimeContext {
    let loop: EventLoop
    let resolver: Resolver
    /// nil for an `http://` server.
    let tls: TLSContext?
    let config: AgentConfig
    let log: Logger
    let identity: DeviceProfile
    var versionString: String { AgentVersion.string }
    /// Learned from the last successful device auth (`name` of the response).
    var deviceName = ""
    var deviceUID = ""
    var namespace = ""
    /// The newest device token (bearer for the tunnel and the key oracle).
    var token: String?
    /// The tenant sent in device auth and where it came from (configuration, `<key>.tenant`
    /// written by pairing, or none yet: pair first).
    var tenant: String
    var tenantSource: TenantFile.Source
    /// Whether to ask for a challenge before device auth (off after a server answered the
    /// challenge request with 4xx; on again after an unsigned auth got 403), and whether the
    /// fallback to unsigned auth was logged (once per process).
    var proofOffered = true
    var proofFallbackSaid = false
    /// Random numbers for jitter (arc4random/getrandom underneath).
    var rng = SystemRandomNumberGenerator()

    init(loop: EventLoop, resolver: Resolver, tls: TLSContext?, config: AgentConfig, log: Logger,
         identity: DeviceProfile) {
        self.loop = loop
        self.resolver = resolver
        self.tls = tls
        self.config = config
        self.log = log
        self.identity = identity
        tenant = config.tenantID
        tenantSource = config.tenantID.isEmpty ? .none : .configuration
        // The name every connection to the server resolves keeps its own cache entry.
        resolver.pin(host: proxy?.host ?? config.server.host, port: proxy?.port ?? config.server.port)
    }

    /// `<key>.tenant`: the tenant a paired device learned.
    var tenantFilePath: String { TenantFile.path(forKey: config.privateKeyPath) }

    /// Picks the tenant at start: the configuration's, else the one pairing saved.
    func loadTenant() {
        let saved = Files.readTrimmed(tenantFilePath).flatMap { TenantFile.parse($0) }
        let choice = TenantFile.resolve(configured: config.tenantID, persisted: saved)
        if choice.conflict {
            log.warning("tenant: SHELLHUB_TENANT_ID differs from " + String(tenantFilePath) + "; using the variable")
        }
        tenant = choice.tenant
        tenantSource = choice.source
    }

    /// The loop clock as the sans-I/O state machines take it.
    var now: Instant { Instant(milliseconds: Int64(loop.nowMilliseconds)) }

    /// The CONNECT proxy of the configuration (HTTPS_PROXY/HTTP_PROXY/NO_PROXY from the
    /// environment or the config file, resolved for the server by AgentConfig).
    var proxy: ProxySettings? {
        config.proxy.map { ProxySettings(host: $0.host, port: $0.port, credentials: config.proxyCredentials) }
    }

    /// Options of a new connection to the server: TLS for https, the proxy, a send queue of
    /// `queue` bytes (fixed at creation: memory does not grow with load).
    func linkOptions(queue: Int) -> LinkOptions {
        var o = LinkOptions(host: config.server.host, port: config.server.port, tls: tls)
        o.proxy = proxy
        o.outputCapacity = queue
        return o
    }

    /// Arms a loop timer at a state machine's deadline (same monotonic clock, ms). nil when the
    /// timer table is full (said here, naming `what`): the caller then closes what the deadline
    /// guards. The table is sized from the slots (RuntimeLimits), so this is a last defence.
    func schedule(at deadline: Instant, for what: String, _ action: @escaping () -> Void) -> TimerToken? {
        let ns = UInt64(max(deadline.milliseconds, 0)) &* 1_000_000
        do {
            return try loop.schedule(atNanoseconds: ns, action)
        } catch {
            log.error(what + ": timer table full (" + String(loop.maxTimers) + " timers)")
            return nil
        }
    }

    /// Request target of `path` under the server's path prefix.
    func target(_ path: String) -> String { config.server.join(path) }
}

/// The device as it introduces itself to the server (PROTOCOL.md 2).
struct DeviceProfile {
    /// The byte-exact `public_key` string (PKCS#1 "RSA PUBLIC KEY" PEM).
    var publicKeyPEM: String
    /// `identity.mac`: the preferred identity, else the MAC of the chosen interface.
    var mac: String
    var hostname: String
    var info: DeviceInfo
    /// The device key: also the SSH host key (PROTOCOL.md 7.2).
    var key: DeviceKey
}

extension WebSocketLink {
    /// A WebSocket to the configured server at `target`, with a fixed send queue of `queue`
    /// bytes, its proxy, TLS and TCP keepalive from the configuration.
    convenience init(context: RuntimeContext, target: String, bearer: String?, label: String, queue: Int,
                     delegate: WebSocketLinkDelegate) {
        self.init(loop: context.loop, resolver: context.resolver, options: context.linkOptions(queue: queue),
                  hostHeader: context.config.server.hostHeader, target: target, bearer: bearer,
                  tcpKeepaliveSeconds: context.config.tcpKeepaliveSeconds, label: label, delegate: delegate)
    }
}
