/// Small ASCII text helpers for configuration values (no Unicode tables needed).
enum ConfigText {
    static func lowercased(_ s: String) -> String {
        String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// The byte offset of the first `needle` in `haystack`.
    static func find(_ needle: String, in haystack: String) -> Int? {
        let n = Array(needle.utf8), h = Array(haystack.utf8)
        guard !n.isEmpty, h.count >= n.count else { return nil }
        for i in 0...(h.count - n.count) where h[i] == n[0] && Array(h[i..<i + n.count]) == n {
            return i
        }
        return nil
    }

    /// `8-4-4-4-12` hex digits, as ShellHub's v2 endpoint validates the tenant.
    static func isUUID(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count == 36 else { return false }
        for (i, c) in b.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != UInt8(ascii: "-") { return false }
            } else if !((c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66)) {
                return false
            }
        }
        return true
    }

    /// The server's device-name rule (PROTOCOL.md 2.4): dots become `_`, then
    /// `^[a-zA-Z0-9_-]{1,64}$`.
    static func isValidHostname(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard !b.isEmpty, b.count <= ConfigLimits.maxHostnameLength else { return false }
        return b.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
        }
    }

    /// Go's `strconv.ParseBool` words plus on/off and yes/no.
    static func parseBool(_ s: String) -> Bool? {
        switch lowercased(s) {
        case "1", "t", "true", "on", "yes": return true
        case "0", "f", "false", "off", "no": return false
        default: return nil
        }
    }
}
