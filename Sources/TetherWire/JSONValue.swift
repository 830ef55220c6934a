/// A decoded JSON document (RFC 8259). Objects keep their members in wire order, duplicates
/// included; lookups return the last duplicate, as Go's decoder (the ShellHub side) lets the last
/// one win. Numbers keep their source text so that no precision is lost and no floating-point
/// parsing is needed on the boards.
public enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// The value of member `key` when this is an object (exact, case-sensitive match).
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        var found: JSONValue? = nil
        // Byte comparison: String == would pull Unicode tables into Embedded builds.
        for m in members where m.key.utf8.elementsEqual(key.utf8) { found = m.value }
        return found
    }

    /// Element `index` when this is an array.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let items) = self, index >= 0, index < items.count else { return nil }
        return items[index]
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The number as an integer when its text is an integer in Int64 range.
    public var int64: Int64? {
        if case .number(let n) = self { return n.int64 }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    public var members: [JSONMember]? {
        if case .object(let m) = self { return m }
        return nil
    }

    public var items: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

/// One `"key": value` pair of a JSON object.
public struct JSONMember: Equatable {
    public var key: String
    public var value: JSONValue

    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// A JSON number as it appeared on the wire (already checked against the RFC 8259 grammar).
public struct JSONNumber: Equatable {
    public let text: String

    public init(text: String) { self.text = text }

    public init(_ value: Int64) { self.text = JSONNumber.decimal(value) }

    /// The value when the text is a plain integer (no fraction, no exponent) within Int64.
    public var int64: Int64? {
        var it = text.utf8.makeIterator()
        guard var c = it.next() else { return nil }
        let negative = c == UInt8(ascii: "-")
        if negative { guard let d = it.next() else { return nil }; c = d }
        var magnitude: UInt64 = 0
        while true {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (m2, o2) = m1.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            magnitude = m2
            guard let d = it.next() else { break }
            c = d
        }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            return magnitude <= UInt64(Int64.max) ? -Int64(magnitude) : nil
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    static func decimal(_ value: Int64) -> String {
        var digits: [UInt8] = []
        var m = value.magnitude
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(m % 10))
            m /= 10
        } while m > 0
        if value < 0 { digits.append(UInt8(ascii: "-")) }
        digits.reverse()
        return String(decoding: digits, as: UTF8.self)
    }
}
