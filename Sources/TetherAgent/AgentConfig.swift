import TetherWire

/// The agent's validated configuration: the Go agent's `SHELLHUB_*` settings (PROTOCOL.md 1)
/// plus Tether's own `TETHER_*` settings. Built only by `AgentConfig.load`, so every value in
/// it has passed validation. Durations are in seconds, as users write them.
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

/// What a board's config file under board-configs/ supplies when a variable is unset.
public struct BoardDefaults: Sendable {
    public var sessionSlots: Int
    /// Default for `SHELLHUB_PRIVATE_KEY`; nil = the variable is required, as in the Go agent.
    public var privateKeyPath: String?
    public var logTarget: LogTarget
    public var middleboxIdleSeconds: Int
    public var tlsMaxFragment: Int

    public init(
        sessionSlots: Int, privateKeyPath: String?, logTarget: LogTarget,
        middleboxIdleSeconds: Int, tlsMaxFragment: Int
    ) {
        self.sessionSlots = sessionSlots
        self.privateKeyPath = privateKeyPath
        self.logTarget = logTarget
        self.middleboxIdleSeconds = middleboxIdleSeconds
        self.tlsMaxFragment = tlsMaxFragment
    }

    /// Host builds and boards without a file: 8 slots, key path required, stderr, a 60 s
    /// middlebox (nginx, AWS ALB), no max fragment length request.
    public static let generic = BoardDefaults(
        sessionSlots: 8, privateKeyPath: nil, logTarget: .stderr, middleboxIdleSeconds: 60,
        tlsMaxFragment: 0)
}

/// Bounds and defaults of the settings, in one place.
public enum ConfigLimits {
    public static let maxSessionSlots = 64
    public static let middleboxIdleRange = 10...3600
    /// 4 h: re-auth only refreshes `last_seen`/`info`/name; online status comes from the tunnel
    /// heartbeats (PROTOCOL.md 4.4, 5.4). One re-auth costs about 2.2 KB upstream, so 4 h adds
    /// 0.55 KB/h, 6 % of the 9.5 KB/h v2 floor (1 h would add 23 %). It is jittered ±20 %.
    public static let defaultReauthIntervalSeconds = 4 * 3600
    public static let reauthIntervalRange = 300...(7 * 86400)
    public static let maxRetryConnectionTimeoutRange = 10...120
    public static let defaultMaxRetryConnectionTimeout = 60
    public static let defaultSessionKeepaliveSeconds: UInt32 = 30
    public static let tcpKeepaliveRange = 10...7200
    /// ShellHub opens the SSH stream when the user connects, starts SSH on it at most 210 s
    /// later and gives handshake + authentication 30 s (PROTOCOL.md 6, 7.1): 300 s never cuts a
    /// real login short. Values under 240 can.
    public static let defaultLoginGraceSeconds = 300
    public static let loginGraceRange = 1...3600
    public static let tlsMaxFragmentChoices = [0, 512, 1024, 2048, 4096]
    /// Server column limits (PROTOCOL.md 2.7) and the device-name rule (2.4).
    public static let maxIdentityLength = 64
    public static let maxHostnameLength = 64
    /// The variable naming the config file, and the file read when it is unset.
    public static let configFileVariable = "TETHER_CONFIG"
    public static let defaultConfigFile = "/etc/shellhub-agent.env"
}
