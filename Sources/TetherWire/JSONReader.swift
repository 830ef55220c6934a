/// Bounds for reading untrusted JSON. The defaults fit every ShellHub API body and control line
/// with a wide margin while keeping a hostile document from allocating much.
public struct JSONLimits {
    public var maxBytes: Int
    public var maxDepth: Int
    public var maxStringBytes: Int

    public static let defaultMaxBytes = 64 * 1024
    public static let defaultMaxDepth = 32
    public static let defaultMaxStringBytes = 16 * 1024

    public init(
        maxBytes: Int = JSONLimits.defaultMaxBytes,
        maxDepth: Int = JSONLimits.defaultMaxDepth,
        maxStringBytes: Int = JSONLimits.defaultMaxStringBytes
    ) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxStringBytes = maxStringBytes
    }
}

/// Strict RFC 8259 reader: one value surrounded by optional whitespace, UTF-8 only, escapes and
/// surrogate pairs decoded, lone surrogates and raw control characters rejected.
public struct JSONReader {
    let bytes: [UInt8]
    let limits: JSONLimits
    var pos = 0
    var depth = 0

    /// Parses one complete document.
    public static func parse<C: Collection>(
        _ input: C, limits: JSONLimits = JSONLimits()
    ) throws(JSONError) -> JSONValue where C.Element == UInt8 {
        if input.count > limits.maxBytes {
            throw .inputTooLarge(size: input.count, limit: limits.maxBytes)
        }
        var reader = JSONReader(bytes: Array(input), limits: limits)
        reader.skipWhitespace()
        let value = try reader.readValue()
        reader.skipWhitespace()
        if reader.pos != reader.bytes.count { throw .trailingBytes(at: reader.pos) }
        return value
    }

    /// Parses a document given as a string (tests, constants).
    public static func parse(_ text: String, limits: JSONLimits = JSONLimits()) throws(JSONError)
        -> JSONValue
    {
        try parse(Array(text.utf8), limits: limits)
    }

    mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    func peek() throws(JSONError) -> UInt8 {
        guard pos < bytes.count else { throw .unexpectedEnd }
        return bytes[pos]
    }

    mutating func expect(_ byte: UInt8) throws(JSONError) {
        let b = try peek()
        guard b == byte else { throw .unexpectedByte(b, at: pos) }
        pos += 1
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONError) {
        let p = literal.utf8Start
        for i in 0..<literal.utf8CodeUnitCount {
            try expect(p[i])
        }
    }

    mutating func readValue() throws(JSONError) -> JSONValue {
        let b = try peek()
        switch b {
        case UInt8(ascii: "{"): return try readObject()
        case UInt8(ascii: "["): return try readArray()
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try readNumber())
        default: throw .unexpectedByte(b, at: pos)
        }
    }

    mutating func enter() throws(JSONError) {
        depth += 1
        if depth > limits.maxDepth { throw .nestingTooDeep(at: pos) }
    }

    mutating func readObject() throws(JSONError) -> JSONValue {
        try enter()
        pos += 1  // {
        var members: [JSONMember] = []
        skipWhitespace()
        if try peek() == UInt8(ascii: "}") {
            pos += 1
            depth -= 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            let b = try peek()
            guard b == UInt8(ascii: "\"") else { throw .unexpectedByte(b, at: pos) }
            let key = try readString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            let value = try readValue()
            members.append(JSONMember(key, value))
            skipWhitespace()
            let c = try peek()
            pos += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "}") { break }
            throw .unexpectedByte(c, at: pos - 1)
        }
        depth -= 1
        return .object(members)
    }

    mutating func readArray() throws(JSONError) -> JSONValue {
        try enter()
        pos += 1  // [
        var items: [JSONValue] = []
        skipWhitespace()
        if try peek() == UInt8(ascii: "]") {
            pos += 1
            depth -= 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try readValue())
            skipWhitespace()
            let c = try peek()
            pos += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "]") { break }
            throw .unexpectedByte(c, at: pos - 1)
        }
        depth -= 1
        return .array(items)
    }

    mutating func readNumber() throws(JSONError) -> JSONNumber {
        let start = pos
        func digit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        func at(_ i: Int) -> UInt8? { i < bytes.count ? bytes[i] : nil }
        if at(pos) == UInt8(ascii: "-") { pos += 1 }
        guard let first = at(pos), digit(first) else { throw .invalidNumber(at: start) }
        pos += 1
        if first != UInt8(ascii: "0") {
            while let d = at(pos), digit(d) { pos += 1 }
        }
        if at(pos) == UInt8(ascii: ".") {
            pos += 1
            guard let d = at(pos), digit(d) else { throw .invalidNumber(at: start) }
            while let d = at(pos), digit(d) { pos += 1 }
        }
        if let e = at(pos), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            pos += 1
            if let s = at(pos), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { pos += 1 }
            guard let d = at(pos), digit(d) else { throw .invalidNumber(at: start) }
            while let d = at(pos), digit(d) { pos += 1 }
        }
        return JSONNumber(text: String(decoding: bytes[start..<pos], as: UTF8.self))
    }

    mutating func readHex4() throws(JSONError) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw .invalidUnicodeEscape(at: pos) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw .invalidUnicodeEscape(at: pos)
            }
            v = v << 4 | UInt32(d)
            pos += 1
        }
        return v
    }

    /// Reads a string starting at its opening quote; returns its decoded text.
    mutating func readString() throws(JSONError) -> String {
        pos += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard pos < bytes.count else { throw .unexpectedEnd }
            if out.count > limits.maxStringBytes { throw .stringTooLong(at: pos) }
            let b = bytes[pos]
            switch b {
            case UInt8(ascii: "\""):
                pos += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                let escapeAt = pos
                pos += 1
                guard pos < bytes.count else { throw .unexpectedEnd }
                let e = bytes[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try readHex4()
                    if scalar >= 0xDC00 && scalar <= 0xDFFF { throw .unpairedSurrogate(at: escapeAt) }
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"),
                            bytes[pos + 1] == UInt8(ascii: "u")
                        else { throw .unpairedSurrogate(at: escapeAt) }
                        pos += 2
                        let low = try readHex4()
                        guard low >= 0xDC00 && low <= 0xDFFF else { throw .unpairedSurrogate(at: escapeAt) }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    JSONReader.appendUTF8(scalar, to: &out)
                default:
                    throw .invalidEscape(at: escapeAt)
                }
            case 0x00..<0x20:
                throw .controlCharacterInString(at: pos)
            case 0x20..<0x80:
                out.append(b)
                pos += 1
            default:
                let n = try utf8SequenceLength(at: pos)
                out.append(contentsOf: bytes[pos..<pos + n])
                pos += n
            }
        }
    }

    /// Length of the well-formed UTF-8 sequence starting with a non-ASCII byte at `i`
    /// (RFC 3629 table: no overlongs, no surrogates, nothing above U+10FFFF).
    func utf8SequenceLength(at i: Int) throws(JSONError) -> Int {
        let b0 = bytes[i]
        func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            i + k < bytes.count && bytes[i + k] >= lo && bytes[i + k] <= hi
        }
        switch b0 {
        case 0xC2...0xDF:
            if cont(1) { return 2 }
        case 0xE0:
            if cont(1, 0xA0) && cont(2) { return 3 }
        case 0xE1...0xEC, 0xEE...0xEF:
            if cont(1) && cont(2) { return 3 }
        case 0xED:
            if cont(1, 0x80, 0x9F) && cont(2) { return 3 }
        case 0xF0:
            if cont(1, 0x90) && cont(2) && cont(3) { return 4 }
        case 0xF1...0xF3:
            if cont(1) && cont(2) && cont(3) { return 4 }
        case 0xF4:
            if cont(1, 0x80, 0x8F) && cont(2) && cont(3) { return 4 }
        default:
            break
        }
        throw .invalidUTF8(at: i)
    }

    static func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(0xC0 | UInt8(scalar >> 6))
            out.append(0x80 | UInt8(scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(0xE0 | UInt8(scalar >> 12))
            out.append(0x80 | UInt8(scalar >> 6 & 0x3F))
            out.append(0x80 | UInt8(scalar & 0x3F))
        default:
            out.append(0xF0 | UInt8(scalar >> 18))
            out.append(0x80 | UInt8(scalar >> 12 & 0x3F))
            out.append(0x80 | UInt8(scalar >> 6 & 0x3F))
            out.append(0x80 | UInt8(scalar & 0x3F))
        }
    }
}
