/// The optional configuration file: `KEY=VALUE` lines as in `/etc/shellhub-agent.env`, the file
/// the Go agent's installer writes and systemd's `EnvironmentFile=` reads.
///
/// Accepted: blank lines; `#` comment lines; an optional `export ` before the key; whitespace
/// around key and `=`; a value in single quotes (literal), in double quotes (`\"`, `\\`, `\n`,
/// `\t`, `\$` escapes) or bare (trimmed; ` #` starts a comment). A later line for the same key
/// wins, as when a shell sources the file. The runtime reads the bytes; this type only parses.
public struct EnvFile: Sendable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: String
        public var line: Int
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    /// Parses the file's text; the first bad line is reported by number.
    public init(parsing text: String) throws(ConfigError) {
        var lineNumber = 0
        // Split on bytes: as Characters, "\r\n" is one grapheme and would not split on "\n".
        for rawLine in Array(text.utf8).split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Array(rawLine)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if let entry = try Self.parseLine(line, number: lineNumber) {
                entries.append(entry)
            }
        }
    }

    /// The value of the last line for `key`, if any.
    public func value(_ key: String) -> String? {
        for entry in entries.reversed() where entry.key == key { return entry.value }
        return nil
    }

    private static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    private static func parseLine(_ line: [UInt8], number: Int) throws(ConfigError) -> Entry? {
        var i = 0
        while i < line.count, isSpace(line[i]) { i += 1 }
        if i == line.count || line[i] == UInt8(ascii: "#") { return nil }
        let exportWord = Array("export".utf8)
        if line.count > i + exportWord.count, Array(line[i..<i + exportWord.count]) == exportWord,
            isSpace(line[i + exportWord.count])
        {
            i += exportWord.count
            while i < line.count, isSpace(line[i]) { i += 1 }
        }
        let keyStart = i
        while i < line.count, isKeyByte(line[i]) { i += 1 }
        let key = String(decoding: line[keyStart..<i], as: UTF8.self)
        guard !key.isEmpty, !isDigit(line[keyStart]) else {
            throw .fileSyntax(line: number, reason: "expected NAME=VALUE")
        }
        while i < line.count, isSpace(line[i]) { i += 1 }
        guard i < line.count, line[i] == UInt8(ascii: "=") else {
            throw .fileSyntax(line: number, reason: "expected '=' after " + String(key))
        }
        i += 1
        while i < line.count, isSpace(line[i]) { i += 1 }
        let value = try parseValue(line[i...], key: key, number: number)
        return Entry(key: key, value: value, line: number)
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    private static func isKeyByte(_ c: UInt8) -> Bool {
        isDigit(c) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == UInt8(ascii: "_")
    }

    private static func parseValue(
        _ rest: ArraySlice<UInt8>, key: String, number: Int
    ) throws(ConfigError) -> String {
        guard let first = rest.first else { return "" }
        var out: [UInt8] = []
        var i = rest.startIndex + 1
        if first == UInt8(ascii: "'") || first == UInt8(ascii: "\"") {
            var closed = false
            while i < rest.endIndex {
                let c = rest[i]
                i += 1
                if c == first { closed = true; break }
                if first == UInt8(ascii: "\""), c == UInt8(ascii: "\\"), i < rest.endIndex {
                    let e = rest[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "$"), UInt8(ascii: "`"):
                        out.append(e)
                    default: out.append(c); out.append(e)
                    }
                    continue
                }
                out.append(c)
            }
            guard closed else {
                throw .fileSyntax(line: number, reason: String(key) + ": unterminated quote")
            }
            // Only whitespace or a comment may follow the closing quote.
            while i < rest.endIndex, isSpace(rest[i]) { i += 1 }
            guard i == rest.endIndex || rest[i] == UInt8(ascii: "#") else {
                throw .fileSyntax(line: number, reason: String(key) + ": text after closing quote")
            }
            return String(decoding: out, as: UTF8.self)
        }
        // Bare value: up to a '#' that follows whitespace, trailing whitespace trimmed.
        out.append(first)
        while i < rest.endIndex {
            let c = rest[i]
            if c == UInt8(ascii: "#"), isSpace(rest[i - 1]) { break }
            out.append(c)
            i += 1
        }
        while let last = out.last, isSpace(last) { out.removeLast() }
        return String(decoding: out, as: UTF8.self)
    }
}
