/// Every limit of the SSH service in one place.
public enum SSHLimits {
    /// Bytes moved per read between a channel and a child or socket (one SSH packet's worth).
    public static let pumpChunk = 64 * 1024
    /// Channels (sessions + forwardings) one connection may have open at once, counting
    /// direct-tcpip opens still resolving their host and agent connections from programs.
    public static let channelsPerConnection = 10
    /// Most descriptors one channel registers with the loop: a session without a pty has
    /// three pipes, its child's pidfd and, with agent forwarding, its agent listener; a forward
    /// has one socket.
    public static let descriptorsPerChannel = 5
    /// Most descriptors one connection registers with the loop: its socket, its password
    /// check's pipe and every channel at its most. The runtime reserves this much per slot.
    public static let descriptorsPerConnection = 2 + channelsPerConnection * descriptorsPerChannel
    /// crypt(3) children running at once, server-wide: one per password try, the rest of a
    /// burst waits its turn (a child is a whole CPU for up to a second or more on a board).
    public static let passwordChildren = 2
    /// A password check's child is killed and the try refused after this long.
    public static let passwordCheckMs: Int64 = 10_000
    /// Failed authentications tolerated on one connection (ShellHub sends one).
    public static let authFailuresPerConnection = 6
    /// Oracle calls (POST /api/auth/ssh) one connection may cause; ShellHub uses one key.
    public static let oracleCallsPerConnection = 1
    /// How long output is still drained after the child exited before exit-status goes out
    /// (a background job can hold the pipe open forever).
    public static let drainAfterExitMs: Int64 = 5_000
    /// Interval of waitpid() checks when pidfd_open(2) is unavailable (kernel < 5.3).
    public static let reapPollMs: Int64 = 500
    /// Accepted environment variables from the client (LANG, LC_*) per channel.
    public static let clientEnvVariables = 32
    /// Longest client environment value kept.
    public static let clientEnvValueBytes = 256
    /// Longest shadow/passwd file read (bytes); larger files are refused.
    public static let accountFileBytes = 1 << 20
    /// Key blob bytes accepted (RSA 16384 is ~2 KiB).
    public static let keyBlobBytes = 4096
    /// SO_SNDBUF/SO_RCVBUF of a slot's socketpair (per direction).
    public static let socketpairBuffer: Int32 = 64 * 1024
    /// Time allowed for a direct-tcpip connect before the channel open is refused.
    public static let forwardConnectMs: Int64 = 10_000
}
