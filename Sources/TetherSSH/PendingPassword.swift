/// A password try waiting for its crypt child, or in line for a turn to start one (`next`:
/// the server's queue, first come first served).
final class PendingPassword {
    let message: OpaquePointer
    let user: String
    /// nil: the user does not exist and the try is refused whatever crypt says (a decoy).
    let account: UserAccount?
    /// Dropped once the child has its copy.
    var password: String
    let setting: String
    var child: PasswordChild?
    var next: PendingPassword?

    init(message: OpaquePointer, user: String, account: UserAccount?, password: String, setting: String) {
        self.message = message
        self.user = user
        self.account = account
        self.password = password
        self.setting = setting
    }
}
