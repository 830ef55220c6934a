import CShims
import TetherPlatform

/// Verifies a password against a crypt(3) hash from a shadow file. What needs no hashing is
/// answered here at once; the hashing itself runs in a `PasswordChild`.
public enum PasswordCheck {
    /// What a (hash, password) pair needs.
    public enum Plan: Equatable {
        case accept
        case refuse(SSHAuthRefusal)
        /// crypt(3) must decide: hash the password with the hash as setting and compare.
        case crypt
    }

    public static func plan(password: String, hash: String, permitEmpty: Bool) -> Plan {
        if hash.isEmpty {
            return permitEmpty && password.isEmpty ? .accept : .refuse(.emptyPasswordNotPermitted)
        }
        // "!" / "!!" / "!<hash>" (locked), "*" and "x" (no password) never match.
        if hash.hasPrefix("!") || hash.hasPrefix("*") || hash == "x" { return .refuse(.lockedAccount) }
        if tether_crypt_supported(hash) == 0 { return .refuse(.unsupportedHash) }
        return .crypt
    }

    /// crypt(3) of `password` with the method and salt of `setting`; nil when unsupported.
    /// Blocking: for the self-test, never on the loop (see `PasswordChild`).
    public static func crypt(password: String, setting: String) -> String? {
        var out = [CChar](repeating: 0, count: 512)
        let rc = out.withUnsafeMutableBufferPointer { buf in
            tether_crypt(password, setting, buf.baseAddress, buf.count)
        }
        guard rc == 0 else { return nil }
        return String(decodingCString: out)
    }

    /// Used as the decoy when the shadow file has no hash to borrow one from: yescrypt, the
    /// default of Debian 11+ and Raspberry Pi OS (of a random password that was thrown away).
    /// A user that does not exist still has the password hashed (with a real account's hash
    /// where there is one: same scheme and cost), so the time to be refused does not tell
    /// whether an account exists.
    public static let fallbackDecoy = "$y$j9T$UHeCea/NQwh.YbOy$rKlqiU8AU55.Oe/5bcfg1alNB7bCQLRq8iMKJSZ1BV0"
}
