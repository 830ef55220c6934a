/// The few Go standard-library parsing rules the Go agent's configuration goes through, so a
/// value the Go agent accepts is accepted here with the same meaning.
enum GoSyntax {
    /// `strconv.ParseInt(s, 0, 64)` as go-envconfig calls it: optional sign; base from the
    /// prefix (`0x` hex, `0o` or a bare leading `0` octal, `0b` binary, else decimal);
    /// underscores allowed only between digits (or after a prefix). nil if Go would refuse it.
    static func parseInt(_ text: String) -> Int64? {
        var bytes = Array(text.utf8)
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            negative = first == UInt8(ascii: "-")
            bytes.removeFirst()
        }
        guard let magnitude = parseUnsigned(bytes) else { return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// `strconv.ParseUint(s, 0, 64)`: like `parseInt` without a sign.
    static func parseUInt(_ text: String) -> UInt64? { parseUnsigned(Array(text.utf8)) }

    private static func parseUnsigned(_ s: [UInt8]) -> UInt64? {
        guard !s.isEmpty else { return nil }
        var base: UInt64 = 10
        var start = 0
        if s[0] == UInt8(ascii: "0"), s.count > 1 {
            switch s[1] | 0x20 {
            case UInt8(ascii: "x"): base = 16; start = 2
            case UInt8(ascii: "o"): base = 8; start = 2
            case UInt8(ascii: "b"): base = 2; start = 2
            default: base = 8; start = 1
            }
        }
        guard underscoresOK(s) else { return nil }
        var value: UInt64 = 0
        var digits = 0
        for c in s[start...] {
            if c == UInt8(ascii: "_") { continue }
            guard let d = digitValue(c), d < base else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: base)
            let (v, o2) = m.addingReportingOverflow(d)
            guard !o1, !o2 else { return nil }
            value = v
            digits += 1
        }
        // "0x" alone has no digits; a bare "0" was consumed as the octal prefix.
        if digits == 0 && !(start == 1 || s == [UInt8(ascii: "0")]) { return nil }
        return value
    }

    private static func digitValue(_ c: UInt8) -> UInt64? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt64(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt64(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt64(c - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    /// Go's `underscoreOK`: each `_` must sit between two digits, or between a base prefix
    /// and a digit; "_1", "1_", "1__2" are refused.
    private static func underscoresOK(_ s: [UInt8]) -> Bool {
        guard s.contains(UInt8(ascii: "_")) else { return true }
        // Treat a base prefix (or the bare octal '0') as a digit that may precede '_'.
        var i = 0
        var hexDigits = false
        var previous: UInt8 = UInt8(ascii: "^")  // '^' start, '0' digit or prefix, '_' underscore
        if s.count >= 2, s[0] == UInt8(ascii: "0") {
            let p = s[1] | 0x20
            if p == UInt8(ascii: "x") || p == UInt8(ascii: "o") || p == UInt8(ascii: "b") {
                hexDigits = p == UInt8(ascii: "x")
                i = 2
                previous = UInt8(ascii: "0")
            }
        }
        while i < s.count {
            let c = s[i]
            let isDigit = c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")
            let isHex = hexDigits && (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "f")
            if isDigit || isHex {
                previous = UInt8(ascii: "0")
            } else if c == UInt8(ascii: "_") {
                if previous != UInt8(ascii: "0") { return false }
                previous = UInt8(ascii: "_")
            } else {
                if previous == UInt8(ascii: "_") { return false }
                previous = UInt8(ascii: "!")
            }
            i += 1
        }
        return previous != UInt8(ascii: "_")
    }

    /// `filepath.Clean` for Unix paths: the shortest equivalent path by purely lexical
    /// processing (repeated slashes collapsed, `.` dropped, `dir/..` removed, `/..` at the root
    /// dropped, no trailing slash; "" becomes ".").
    static func cleanPath(_ path: String) -> String {
        let rooted = path.utf8.first == UInt8(ascii: "/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if let last = parts.last, last != ".." {
                    parts.removeLast()
                } else if !rooted {
                    parts.append(part)
                }
                continue
            }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        if rooted { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }
}
