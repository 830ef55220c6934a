/// What a session channel needs from its connection.
final class SessionContext {
    let config: SSHServerConfig
    let account: UserAccount
    let dropPrivileges: Bool
    /// Channels a session created (agent forwarding); the connection adopts them.
    var newHandlers: [ChannelHandler] = []
    /// Channels the connection may still open (set before its channels run).
    var channelRoom = 0

    init(config: SSHServerConfig, account: UserAccount, dropPrivileges: Bool) {
        self.config = config
        self.account = account
        self.dropPrivileges = dropPrivileges
    }
}
