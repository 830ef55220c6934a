/// One header field as it appeared (name case preserved, value with surrounding whitespace
/// removed).
public struct HTTPHeader: Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Ordered header fields with case-insensitive lookup (ASCII only, byte-wise, so no Unicode
/// tables are needed in Embedded builds).
public struct HTTPHeaders: Equatable {
    public var fields: [HTTPHeader]

    public init(_ fields: [HTTPHeader] = []) { self.fields = fields }

    public mutating func add(_ name: String, _ value: String) {
        fields.append(HTTPHeader(name, value))
    }

    /// First value of `name`.
    public subscript(name: String) -> String? {
        for f in fields where HTTPHeaders.equalIgnoringCase(f.name, name) { return f.value }
        return nil
    }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] {
        var out: [String] = []
        for f in fields where HTTPHeaders.equalIgnoringCase(f.name, name) { out.append(f.value) }
        return out
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Whether a comma-separated header (e.g. `Connection`) lists `token` (case-insensitive).
    public func hasToken(_ name: String, _ token: String) -> Bool {
        for v in values(name) {
            for part in v.utf8.split(separator: UInt8(ascii: ",")) {
                if HTTPHeaders.equalIgnoringCase(HTTPSyntax.trimmed(part), token.utf8) { return true }
            }
        }
        return false
    }

    public static func equalIgnoringCase(_ a: String, _ b: String) -> Bool {
        equalIgnoringCase(a.utf8, b.utf8)
    }

    static func equalIgnoringCase<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
    where A.Element == UInt8, B.Element == UInt8 {
        guard a.count == b.count else { return false }
        var ib = b.makeIterator()
        for x in a {
            guard let y = ib.next(), HTTPSyntax.lower(x) == HTTPSyntax.lower(y) else { return false }
        }
        return true
    }
}

/// Byte-level helpers shared by the HTTP parsers and writer.
enum HTTPSyntax {
    static func lower(_ b: UInt8) -> UInt8 {
        b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b + 32 : b
    }

    /// RFC 9110 `tchar`.
    static func isTokenChar(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    static func isToken<C: Collection>(_ s: C) -> Bool where C.Element == UInt8 {
        !s.isEmpty && s.allSatisfy(isTokenChar)
    }

    /// Field value bytes: visible ASCII, space, tab and obs-text; no other controls.
    static func isFieldValueByte(_ b: UInt8) -> Bool {
        b == 0x09 || (b >= 0x20 && b != 0x7F)
    }

    static func trimmed<C: BidirectionalCollection>(_ s: C) -> C.SubSequence where C.Element == UInt8 {
        var lo = s.startIndex
        var hi = s.endIndex
        while lo < hi, s[lo] == 0x20 || s[lo] == 0x09 { lo = s.index(after: lo) }
        while hi > lo, s[s.index(before: hi)] == 0x20 || s[s.index(before: hi)] == 0x09 {
            hi = s.index(before: hi)
        }
        return s[lo..<hi]
    }

    /// Where the head in `buf` ends: the offset just past its blank line, searching from
    /// `from` (a hint: bytes before it were already searched). Bare LF line ends are accepted,
    /// as Go's reader does. Throws when no end is found within `limits.maxHeadBytes`.
    static func headEnd(_ buf: ByteBuffer, from: Int, limits: HTTPLimits) throws(HTTPError) -> Int? {
        var i = Swift.max(0, from - 3)
        let n = Swift.min(buf.count, limits.maxHeadBytes)
        while i < n {
            if buf[i] == 0x0A {
                if i == 0 { return 1 }
                if buf[i - 1] == 0x0A { return i + 1 }
                if buf[i - 1] == 0x0D && (i == 1 || buf[i - 2] == 0x0A) { return i + 1 }
            }
            i += 1
        }
        if buf.count >= limits.maxHeadBytes { throw .headTooLarge(limit: limits.maxHeadBytes) }
        return nil
    }

    /// Splits a complete head (as delimited by `headEnd`) into its non-empty lines, CR stripped.
    static func headLines(_ head: ArraySlice<UInt8>, limits: HTTPLimits) throws(HTTPError)
        -> [ArraySlice<UInt8>]
    {
        var lines: [ArraySlice<UInt8>] = []
        var start = head.startIndex
        var i = head.startIndex
        while i < head.endIndex {
            if head[i] == 0x0A {
                var end = i
                if end > start && head[end - 1] == 0x0D { end -= 1 }
                if end > start {
                    if lines.count > limits.maxHeaderCount {
                        throw .tooManyHeaders(limit: limits.maxHeaderCount)
                    }
                    lines.append(head[start..<end])
                }
                start = i + 1
            }
            i += 1
        }
        return lines
    }

    /// Parses header lines (all lines after the start line).
    static func headers(_ lines: ArraySlice<ArraySlice<UInt8>>) throws(HTTPError) -> HTTPHeaders {
        var h = HTTPHeaders()
        for line in lines {
            guard let first = line.first else { continue }
            if first == 0x20 || first == 0x09 { throw .obsoleteLineFolding }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .invalidHeaderLine }
            let name = line[line.startIndex..<colon]
            // No whitespace between name and colon (RFC 9112 5.1): isToken rejects it.
            guard isToken(name) else { throw .invalidHeaderLine }
            let value = trimmed(line[line.index(after: colon)...])
            guard value.allSatisfy(isFieldValueByte) else { throw .invalidHeaderLine }
            h.add(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
        }
        return h
    }

    /// `HTTP/1.0` or `HTTP/1.1` → minor version.
    static func version<C: Collection>(_ s: C) throws(HTTPError) -> Int where C.Element == UInt8 {
        let a = Array(s)
        guard a.count == 8, a[0..<5].elementsEqual("HTTP/".utf8), a[6] == UInt8(ascii: ".") else {
            throw .unsupportedVersion
        }
        guard a[5] == UInt8(ascii: "1"), a[7] == UInt8(ascii: "0") || a[7] == UInt8(ascii: "1") else {
            throw .unsupportedVersion
        }
        return Int(a[7] - UInt8(ascii: "0"))
    }

    /// Decimal without sign, at most 18 digits (so it fits Int64 even on 32-bit boards).
    static func decimal<C: Collection>(_ s: C) -> Int64? where C.Element == UInt8 {
        guard !s.isEmpty, s.count <= 18 else { return nil }
        var n: Int64 = 0
        for c in s {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            n = n * 10 + Int64(c - UInt8(ascii: "0"))
        }
        return n
    }
}
