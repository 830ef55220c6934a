/// Why a JSON document was rejected. Offsets are byte offsets into the input.
public enum JSONError: Error, Equatable {
    /// The document is larger than `JSONLimits.maxBytes`.
    case inputTooLarge(size: Int, limit: Int)
    /// Arrays/objects nest deeper than `JSONLimits.maxDepth`.
    case nestingTooDeep(at: Int)
    /// One string decodes to more than `JSONLimits.maxStringBytes`.
    case stringTooLong(at: Int)
    /// The input stopped inside a value (or was empty).
    case unexpectedEnd
    /// A byte that cannot start or continue the value being read.
    case unexpectedByte(UInt8, at: Int)
    /// A backslash followed by something other than `"\/bfnrtu`.
    case invalidEscape(at: Int)
    /// `\u` not followed by four hex digits.
    case invalidUnicodeEscape(at: Int)
    /// A `\uD800`-`\uDFFF` escape that is not part of a high+low pair.
    case unpairedSurrogate(at: Int)
    /// A raw byte below 0x20 inside a string (RFC 8259 requires escaping it).
    case controlCharacterInString(at: Int)
    /// String bytes that are not well-formed UTF-8.
    case invalidUTF8(at: Int)
    /// A number that does not follow the RFC 8259 grammar (`01`, `1.`, `-`, `1e`).
    case invalidNumber(at: Int)
    /// Something other than whitespace after the top-level value.
    case trailingBytes(at: Int)
}
