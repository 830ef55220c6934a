import CShims

/// One /etc/passwd entry: what a session needs to start the user's programs.
public struct UserAccount: Equatable {
    public var name: String
    public var uid: UInt32
    public var gid: UInt32
    public var home: String
    public var shell: String

    public init(name: String, uid: UInt32, gid: UInt32, home: String, shell: String) {
        self.name = name
        self.uid = uid
        self.gid = gid
        self.home = home
        self.shell = shell
    }

    /// Parses one passwd line (7 fields); nil when malformed.
    static func parse(_ line: Substring) -> UserAccount? {
        let f = line.split(separator: ":", omittingEmptySubsequences: false)
        guard f.count == 7, !f[0].isEmpty, let uid = UInt32(f[2]), let gid = UInt32(f[3]) else {
            return nil
        }
        return UserAccount(
            name: String(f[0]), uid: uid, gid: gid, home: String(f[5]), shell: String(f[6]))
    }
}

/// Lookups in a passwd-format file (default /etc/passwd; injectable for tests). Read on every
/// lookup: accounts change while the agent runs, and logins are rare.
public struct PasswdFile {
    public var path: String

    public init(path: String = "/etc/passwd") { self.path = path }

    public func account(named name: String) -> UserAccount? {
        if case .found(let a) = lookup(name) { return a }
        return nil
    }

    public enum Lookup: Equatable {
        case found(UserAccount)
        case noSuchUser
        /// The file could not be read (errno, 0 when too large): e.g. out of descriptors.
        case unreadable(errno: Int32)
    }

    public func lookup(_ name: String) -> Lookup {
        guard let lines = FileBytes.lines(path) else { return .unreadable(errno: FileBytes.lastError) }
        for line in lines {
            if let a = UserAccount.parse(line), a.name == name { return .found(a) }
        }
        return .noSuchUser
    }

    public func account(uid: UInt32) -> UserAccount? {
        guard let lines = FileBytes.lines(path) else { return nil }
        for line in lines {
            if let a = UserAccount.parse(line), a.uid == uid { return a }
        }
        return nil
    }
}
