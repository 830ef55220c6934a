import TetherWire

/// The agent's validated configuration: the Go agent's `SHELLHUB_*` settings (PROTOCOL.md 1)
/// plus Tether's own `TETHER_*` settings. Built only by `AgentConfig.load`, so every value in
/// it has passed validation (each setting is read by `ConfigSources`). Durations are in seconds, as users write them.
public struct AgentConfig {
    // Go agent settings.
    /// `SERVER_ADDRESS`: scheme, host, port and path prefix (TetherWire's URL type).
    public var server: HTTPServerURL
    public var privateKeyPath: String
    public var tenantID: String
    public var pairingCode: String
    /// `PROVISIONING_KEY`, or its older name `INSTALL_KEY`: enrols the device into the key's
    /// namespace (the server resolves the tenant when none is configured).
    public var provisioningKey: String
    /// Per-SSH-session keepalive interval (`KEEPALIVE_INTERVAL`); never 0.
    public var sessionKeepaliveSeconds: UInt32
    public var preferredHostname: String
    public var preferredIdentity: String
    /// crypt(3) hash for single-user mode; "" = multi-user mode.
    public var singleUserPassword: String
    public var permitEmptyPasswords: Bool
    /// Validated like the Go agent (10...120) so its configs keep starting; Tether's own
    /// backoff does not use it (newer Go agents ignore it too, PROTOCOL.md 11).
    public var maxRetryConnectionTimeout: Int
    public var transport: TransportVersion
    public var logLevel: LogLevel

    // Standard variables other programs honour too.
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR`; nil = the system bundle.
    public var sslCertFile: String?
    public var sslCertDir: String?
    /// The HTTP CONNECT proxy for the server (from `HTTPS_PROXY` or `HTTP_PROXY` by the
    /// server's scheme, after `NO_PROXY`); nil = connect directly. The one source of the
    /// proxy: the runtime reads nothing of the environment itself.
    public var proxy: HTTPServerURL?
    /// `user:password` from the proxy URL, sent as `Proxy-Authorization: Basic`.
    public var proxyCredentials: String? = nil

    // Tether settings.
    public var sessionSlots: Int
    /// Idle timeout of the tightest middlebox on the path (`TETHER_MIDDLEBOX_IDLE`).
    public var middleboxIdleSeconds: Int
    /// Periodic re-auth interval; 0 = only before each tunnel dial.
    public var reauthIntervalSeconds: Int
    public var logTarget: LogTarget
    /// TLS max fragment length to ask for (512/1024/2048/4096), 0 = don't ask.
    public var tlsMaxFragment: Int
    /// TCP keepalive idle time on tunnel sockets; 0 = off (the default: app pings exist).
    public var tcpKeepaliveSeconds: Int
    /// Send the per-session SSH keepalive every `sessionKeepaliveSeconds` (off by default).
    public var sshSessionKeepalive: Bool
    /// `TETHER_LOGIN_GRACE`: an SSH stream not authenticated this long after it opened is
    /// closed and its slot given back; 0 = never (the Go agent's behaviour).
    public var loginGraceSeconds: Int = ConfigLimits.defaultLoginGraceSeconds

    /// Builds and validates the configuration.
    ///
    /// - `environment`: looks a variable up in the process environment.
    /// - `file`: the parsed config file (empty if there is none).
    /// - `defaults`: what the board supplies for unset Tether settings.
    ///
    /// Each Go-agent setting is looked up as `SHELLHUB_<NAME>` then `<NAME>` in the
    /// environment, then the same two in the file: the environment wins over the file, the
    /// prefixed name over the bare one. An empty value counts as unset. Everything else is
    /// looked up under its exact name. The first refused value is thrown (in the order below).
    public static func load(
        environment: @escaping (String) -> String?, file: EnvFile = EnvFile(),
        defaults: BoardDefaults = .generic
    ) throws(ConfigError) -> AgentConfig {
        let src = ConfigSources(environment: environment, file: file)
        let server = try src.serverAddress()
        let keyPath = try src.privateKeyPath(boardDefault: defaults.privateKeyPath)
        let transport = try src.transportVersion()
        let tenant = try src.tenantID(transport: transport)
        let maxRetry = try src.maxRetryConnectionTimeout()
        let keepaliveSetting = try src.keepaliveInterval()
        let hostname = try src.preferredHostname()
        let identity = try src.preferredIdentity()
        // The misspelt SIMPLE_USER_PASSWORD is the Go agent's fallback for SINGLE_USER_PASSWORD.
        let password = src.shellhub("SINGLE_USER_PASSWORD") ?? src.shellhub("SIMPLE_USER_PASSWORD")
        let permitEmpty = src.shellhub("PERMIT_EMPTY_PASSWORDS").map {
            ConfigText.lowercased($0.value) == "true"
        } ?? false
        let logLevel = try src.logLevel()
        let (proxy, proxyCredentials) = try ProxyRules.proxy(for: server, in: src)

        // Tether settings.
        let slots = try src.integer(
            "TETHER_SESSION_SLOTS", default: defaults.sessionSlots,
            range: 1...ConfigLimits.maxSessionSlots)
        let idle = try src.integer(
            "TETHER_MIDDLEBOX_IDLE", default: defaults.middleboxIdleSeconds,
            range: ConfigLimits.middleboxIdleRange)
        let reauth = try src.integer(
            "TETHER_REAUTH_INTERVAL", default: ConfigLimits.defaultReauthIntervalSeconds,
            range: ConfigLimits.reauthIntervalRange, allowZero: true)
        let tcpKeepalive = try src.integer(
            "TETHER_TCP_KEEPALIVE", default: 0, range: ConfigLimits.tcpKeepaliveRange,
            allowZero: true)
        let loginGrace = try src.integer(
            "TETHER_LOGIN_GRACE", default: ConfigLimits.defaultLoginGraceSeconds,
            range: ConfigLimits.loginGraceRange, allowZero: true)
        let fragment = try src.tlsMaxFragment(default: defaults.tlsMaxFragment)
        let logTarget = try src.logTarget(default: defaults.logTarget)
        let sshKeepalive = try src.sshSessionKeepalive(keepaliveIntervalSet: keepaliveSetting != nil)

        var config = AgentConfig(
            server: server, privateKeyPath: keyPath, tenantID: tenant?.value ?? "",
            pairingCode: src.shellhub("PAIRING_CODE")?.value ?? "",
            provisioningKey: (src.shellhub("PROVISIONING_KEY") ?? src.shellhub("INSTALL_KEY"))?.value ?? "",
            sessionKeepaliveSeconds: keepaliveSetting ?? ConfigLimits.defaultSessionKeepaliveSeconds,
            preferredHostname: hostname?.value ?? "", preferredIdentity: identity?.value ?? "",
            singleUserPassword: password?.value ?? "", permitEmptyPasswords: permitEmpty,
            maxRetryConnectionTimeout: maxRetry, transport: transport, logLevel: logLevel,
            sslCertFile: src.exact("SSL_CERT_FILE")?.value, sslCertDir: src.exact("SSL_CERT_DIR")?.value,
            proxy: proxy, sessionSlots: slots, middleboxIdleSeconds: idle,
            reauthIntervalSeconds: reauth, logTarget: logTarget, tlsMaxFragment: fragment,
            tcpKeepaliveSeconds: tcpKeepalive, sshSessionKeepalive: sshKeepalive)
        config.loginGraceSeconds = loginGrace
        config.proxyCredentials = proxyCredentials
        return config
    }

    /// Single-user mode is required without root and forbidden with it (PROTOCOL.md 7.3).
    public func checkUserMode(isRoot: Bool) throws(ConfigError) {
        if isRoot && !singleUserPassword.isEmpty {
            throw .userMode(reason: "SHELLHUB_SINGLE_USER_PASSWORD: not allowed as root")
        }
        if !isRoot && singleUserPassword.isEmpty {
            throw .userMode(reason: "not root: set SHELLHUB_SINGLE_USER_PASSWORD")
        }
    }
}

/// `SHELLHUB_TRANSPORT_VERSION`: which tunnel endpoint is used (PROTOCOL.md 5.0).
public enum TransportVersion: Int, Equatable, Sendable {
    case v1 = 1
    case v2 = 2

    /// The tunnel endpoint path (joined onto the server's path prefix).
    public var endpointPath: String { self == .v2 ? "/agent/connection" : "/ssh/connection" }
}

/// logrus levels, as `SHELLHUB_LOG_LEVEL` names them.
public enum LogLevel: Int, Comparable, Sendable {
    case panic, fatal, error, warn, info, debug, trace

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }

    /// logrus `ParseLevel`: case-insensitive, `warning` = `warn`.
    public init?(name: String) {
        switch ConfigText.lowercased(name) {
        case "panic": self = .panic
        case "fatal": self = .fatal
        case "error": self = .error
        case "warn", "warning": self = .warn
        case "info": self = .info
        case "debug": self = .debug
        case "trace": self = .trace
        default: return nil
        }
    }
}

/// Where log lines go (`TETHER_LOG`).
public enum LogTarget: Equatable, Sendable {
    case stderr, syslog
}
