/// Everything the SSH service needs to know, set once by the runtime (or `tether ssh-serve`).
public struct SSHServerConfig {
    /// PEM file of the host key (the device's RSA key). Used when `hostKeyPEM` is nil.
    public var hostKeyPath: String
    /// PEM text of the host key, when the runtime already holds it in memory.
    public var hostKeyPEM: String?
    public var shadowPath: String = "/etc/shadow"
    public var passwdPath: String = "/etc/passwd"
    /// SHELLHUB_PERMIT_EMPTY_PASSWORDS.
    public var permitEmptyPasswords = false
    /// Single-user mode (the agent is not root): any user name, this crypt hash
    /// (SHELLHUB_SINGLE_USER_PASSWORD); nil refuses every password in that mode.
    public var singleUserPasswordHash: String?
    /// Forces single-user mode even as root (tests); normally decided by getuid() != 0.
    public var forceSingleUser = false
    /// The device name: SHELLHUB_HOST and the oracle's "Namespace".
    public var deviceName = "device"
    /// Per-connection SSH keepalive interval; 0 = none. The agent sets it when
    /// SHELLHUB_KEEPALIVE_INTERVAL is set explicitly, unless TETHER_SSH_KEEPALIVE says otherwise.
    public var keepaliveIntervalMs: Int64 = 0
    /// A connection not authenticated this long after it started is closed (0 = never). The
    /// agent sets it from TETHER_LOGIN_GRACE (300 s by default, see ConfigLimits).
    public var loginGraceMs: Int64 = 0
    /// sftp-server programs tried in order for `subsystem sftp`.
    public var sftpServerPaths = [
        "/usr/lib/openssh/sftp-server", "/usr/libexec/sftp-server", "/usr/lib/sftp-server",
        "/usr/libexec/openssh/sftp-server",
    ]
    /// The built-in SFTP v3 server, used when none of `sftpServerPaths` exists: a program and
    /// its argv (the agent re-executes itself, like the Go agent); nil disables it.
    public var builtinSFTP: (path: String, argv: [String])? = ("/proc/self/exe", ["tether", "sftp-server"])
    /// Locale sources; the first file with LANG/LC_* wins (PROTOCOL 7.5).
    public var localeFiles = ["/etc/locale.conf", "/etc/default/locale", "/etc/environment"]
    /// Login records of pty sessions (written only where these files exist; nil skips).
    public var utmpPath: String? = "/var/run/utmp"
    public var wtmpPath: String? = "/var/log/wtmp"
    /// Shell used when the passwd entry has none.
    public var fallbackShell = "/bin/sh"
    /// libssh's own log level (0 = silent).
    public var libsshLogLevel: Int32 = 0

    public init(hostKeyPath: String) { self.hostKeyPath = hostKeyPath }
}
