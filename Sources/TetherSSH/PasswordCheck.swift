import CShims
import TetherPlatform

/// Verifies a password against a crypt(3) hash from a shadow file.
public enum PasswordCheck {
    /// Outcome for one (hash, password) pair.
    public static func verify(
        password: String, hash: String, permitEmpty: Bool
    ) -> SSHAuthRefusal? {
        if hash.isEmpty {
            return permitEmpty && password.isEmpty ? nil : .emptyPasswordNotPermitted
        }
        // "!" / "!!" / "!<hash>" (locked), "*" and "x" (no password) never match.
        if hash.hasPrefix("!") || hash.hasPrefix("*") || hash == "x" { return .lockedAccount }
        guard let computed = crypt(password: password, setting: hash) else { return .unsupportedHash }
        return constantTimeEqual(Array(computed.utf8), Array(hash.utf8)) ? nil : .wrongPassword
    }

    /// crypt(3) of `password` with the method and salt of `setting`; nil when unsupported.
    public static func crypt(password: String, setting: String) -> String? {
        var out = [CChar](repeating: 0, count: 512)
        let rc = out.withUnsafeMutableBufferPointer { buf in
            tether_crypt(password, setting, buf.baseAddress, buf.count)
        }
        guard rc == 0 else { return nil }
        return String(decodingCString: out)
    }

    /// Compares without an early exit, so timing does not tell how many bytes matched.
    /// The length difference is kept whole: lengths that differ by a multiple of 256 must not
    /// compare equal on a common prefix.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt(bitPattern: a.count ^ b.count)
        let n = min(a.count, b.count)
        var i = 0
        while i < n {
            diff |= UInt(a[i] ^ b[i])
            i += 1
        }
        return diff == 0
    }

    /// Used as the decoy when the shadow file has no hash to borrow one from: yescrypt, the
    /// default of Debian 11+ and Raspberry Pi OS (of a random password that was thrown away).
    public static let fallbackDecoy = "$y$j9T$UHeCea/NQwh.YbOy$rKlqiU8AU55.Oe/5bcfg1alNB7bCQLRq8iMKJSZ1BV0"

    /// For a user that does not exist: runs crypt with `decoy` (a real account's hash, so the
    /// same scheme and cost) and refuses, so that the time to be refused does not tell whether
    /// an account exists.
    public static func refuseUnknownUser(password: String, decoy: String?) -> SSHAuthRefusal {
        _ = crypt(password: password, setting: decoy ?? fallbackDecoy)
        return .unknownUser
    }
}
