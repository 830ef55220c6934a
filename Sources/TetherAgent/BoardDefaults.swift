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
