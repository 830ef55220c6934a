/// What went wrong while setting up or running the SSH service.
public enum SSHError: Error, Equatable {
    /// libssh could not allocate a bind or session object.
    case libraryAllocationFailed
    /// The host key file or PEM could not be imported (path or "pem").
    case hostKeyUnreadable(String)
    /// The host key's type cannot sign in this build (board builds: RSA and ECDSA only).
    case hostKeyTypeUnsupported(String)
    /// A bind option was refused by libssh (option name).
    case bindOptionRejected(String)
    /// `ssh_bind_accept_fd` refused the connection's fd (libssh's message).
    case acceptFailed(String)

    /// One line for logs and the console.
    public var text: String {
        switch self {
        case .libraryAllocationFailed: return "libssh allocation failed"
        case .hostKeyUnreadable(let p): return "host key unreadable: " + String(p)
        case .hostKeyTypeUnsupported(let t):
            return "host key type " + String(t) + " is not supported by this build (board builds sign with RSA or ECDSA)"
        case .bindOptionRejected(let o): return "libssh refused option " + String(o)
        case .acceptFailed(let why): return "accept failed: " + String(why)
        }
    }
}

/// Why a password or public key was refused (logged, never sent to the client).
public enum SSHAuthRefusal: Equatable {
    case unknownUser
    case lockedAccount
    case emptyPasswordNotPermitted
    case wrongPassword
    case unsupportedHash
    case shadowUnreadable
    /// The passwd file could not be read (errno; 0: over the size limit).
    case passwdUnreadable(errno: Int32)
    case keyNotRSA
    case oracleUnavailable
    case oracleRefused
    case badSignature
    case oracleBudgetSpent
    case checkPending
    case passwordCheckFailed
    case passwordCheckTimedOut

    var text: String {
        switch self {
        case .unknownUser: return "unknown user"
        case .lockedAccount: return "locked account"
        case .emptyPasswordNotPermitted: return "empty password not permitted"
        case .wrongPassword: return "wrong password"
        case .unsupportedHash: return "unsupported hash"
        case .shadowUnreadable: return "shadow unreadable" + FileBytes.reason(FileBytes.lastError)
        case .passwdUnreadable(let e): return "passwd unreadable" + FileBytes.reason(e)
        case .keyNotRSA: return "key is not RSA"
        case .oracleUnavailable: return "no key oracle"
        case .oracleRefused: return "hub refused key"
        case .badSignature: return "bad hub signature"
        case .oracleBudgetSpent: return "one key per connection"
        case .checkPending: return "a check is still running"
        case .passwordCheckFailed: return "password check failed"
        case .passwordCheckTimedOut: return "password check timed out"
        }
    }
}
