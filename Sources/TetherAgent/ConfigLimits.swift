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
