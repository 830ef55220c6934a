/// Password hashes from a shadow-format file (default /etc/shadow; injectable for tests).
/// Aging fields are not enforced (as in the Go agent). Malformed lines are skipped rather than
/// making the whole file unusable (the Go agent's quirk, deliberately not copied).
public struct ShadowFile {
    public var path: String

    public init(path: String = "/etc/shadow") { self.path = path }

    public enum Lookup: Equatable {
        case hash(String)
        /// `decoy`: another account's crypt hash from the same file (the first one), so that a
        /// refusal for an unknown user can cost what a real check costs; nil when there is none.
        case noSuchUser(decoy: String?)
        case unreadable
    }

    public func lookup(_ user: String) -> Lookup {
        guard let lines = FileBytes.lines(path) else { return .unreadable }
        var decoy: String?
        for line in lines {
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count >= 2, !f[0].isEmpty else { continue }
            if f[0] == user { return .hash(String(f[1])) }
            if decoy == nil, f[1].hasPrefix("$") { decoy = String(f[1]) }
        }
        return .noSuchUser(decoy: decoy)
    }
}
