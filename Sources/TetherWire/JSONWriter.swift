/// Compact JSON writer (no spaces, no trailing newline) whose string escaping matches Go's
/// `encoding/json` byte for byte: `"` `\` as `\"` `\\`; `\b \f \n \r \t` short forms; other
/// control bytes as `\u00XX` (lowercase hex); `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026`
/// (Go's default HTML escaping); U+2028/U+2029 as `\u2028`/`\u2029`; `/` and all other
/// characters raw.
///
/// ShellHub does not hash or sign JSON text: the device UID hashes decoded field values and the
/// public-key oracle signs the *decoded* `data` string, so escaping style is not load-bearing.
/// Matching Go anyway keeps request bodies identical to the Go agent's, which makes captures easy
/// to compare.
///
/// Commas are inserted automatically: write `key` then a value inside objects, values inside
/// arrays. Structure is the caller's responsibility (the writer does not check nesting).
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    var needsComma = false

    public init() {}

    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes a member name and its colon; the value written next belongs to it.
    public mutating func key(_ name: String) {
        separate()
        JSONWriter.appendQuoted(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ s: String) {
        separate()
        JSONWriter.appendQuoted(s, to: &bytes)
        needsComma = true
    }

    public mutating func int(_ v: Int64) {
        separate()
        bytes.append(contentsOf: JSONNumber.decimal(v).utf8)
        needsComma = true
    }

    public mutating func bool(_ v: Bool) {
        separate()
        bytes.append(contentsOf: (v ? "true" : "false").utf8)
        needsComma = true
    }

    public mutating func null() {
        separate()
        bytes.append(contentsOf: "null".utf8)
        needsComma = true
    }

    /// `"name":"value"`.
    public mutating func field(_ name: String, _ value: String) {
        key(name)
        string(value)
    }

    /// `"name":"value"`, or nothing when `value` is empty (Go's `omitempty`).
    public mutating func fieldOmitEmpty(_ name: String, _ value: String) {
        if !value.utf8.isEmpty { field(name, value) }
    }

    /// Writes a whole value tree.
    public mutating func value(_ v: JSONValue) {
        switch v {
        case .null: null()
        case .bool(let b): bool(b)
        case .number(let n):
            separate()
            bytes.append(contentsOf: n.text.utf8)
            needsComma = true
        case .string(let s): string(s)
        case .array(let items):
            beginArray()
            for item in items { value(item) }
            endArray()
        case .object(let members):
            beginObject()
            for m in members {
                key(m.key)
                value(m.value)
            }
            endObject()
        }
    }

    /// Serialises `v` compactly.
    public static func encode(_ v: JSONValue) -> [UInt8] {
        var w = JSONWriter()
        w.value(v)
        return w.bytes
    }

    mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    static let hexDigits: StaticString = "0123456789abcdef"

    /// Appends `s` as a quoted, Go-escaped JSON string.
    public static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let utf8 = s.utf8
        var i = utf8.startIndex
        while i != utf8.endIndex {
            let b = utf8[i]
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(b)
            case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0x00..<0x20, UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "&"):
                appendUnicodeEscape(UInt16(b), to: &out)
            case 0xE2:
                // U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR are E2 80 A8/A9.
                let j = utf8.index(after: i)
                let k = j == utf8.endIndex ? j : utf8.index(after: j)
                if k != utf8.endIndex, utf8[j] == 0x80, utf8[k] == 0xA8 || utf8[k] == 0xA9 {
                    appendUnicodeEscape(utf8[k] == 0xA8 ? 0x2028 : 0x2029, to: &out)
                    i = k
                } else {
                    out.append(b)
                }
            default:
                out.append(b)
            }
            i = utf8.index(after: i)
        }
        out.append(UInt8(ascii: "\""))
    }

    static func appendUnicodeEscape(_ v: UInt16, to out: inout [UInt8]) {
        let hex = hexDigits.utf8Start
        out.append(UInt8(ascii: "\\"))
        out.append(UInt8(ascii: "u"))
        out.append(hex[Int(v >> 12 & 0xF)])
        out.append(hex[Int(v >> 8 & 0xF)])
        out.append(hex[Int(v >> 4 & 0xF)])
        out.append(hex[Int(v & 0xF)])
    }
}
