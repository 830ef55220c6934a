import Testing
@testable import TetherAgent

@Suite struct GoSyntaxTests {
    /// Vectors follow Go's strconv.ParseInt(s, 0, 64) results.
    @Test(arguments: [
        ("2", Int64(2)), ("+2", 2), ("-7", -7), ("0", 0), ("02", 2), ("010", 8), ("0x1e", 30),
        ("0X1E", 30), ("0o17", 15), ("0b101", 5), ("1_000", 1000), ("0x_1f", 31), ("0_7", 7),
        ("9223372036854775807", Int64.max), ("-9223372036854775808", Int64.min),
    ])
    func parsesLikeGo(text: String, value: Int64) {
        #expect(GoSyntax.parseInt(text) == value)
    }

    @Test(arguments: [
        "", " 2", "2 ", "08", "0x", "1__0", "_1", "1_", "0b2", "abc", "9223372036854775808",
        "--1", "1.0", "+",
    ])
    func refusesWhatGoRefuses(text: String) {
        #expect(GoSyntax.parseInt(text) == nil)
    }

    @Test func unsignedHasNoSign() {
        #expect(GoSyntax.parseUInt("4294967295") == 4_294_967_295)
        #expect(GoSyntax.parseUInt("-1") == nil)
        #expect(GoSyntax.parseUInt("+1") == nil)
        #expect(GoSyntax.parseUInt("18446744073709551615") == UInt64.max)
        #expect(GoSyntax.parseUInt("18446744073709551616") == nil)
    }

    /// Vectors from Go's path/filepath Clean tests (Unix).
    @Test(arguments: [
        ("", "."), ("abc", "abc"), ("abc/def", "abc/def"), (".", "."), ("..", ".."),
        ("../..", "../.."), ("/", "/"), ("//", "/"), ("abc/", "abc"), ("abc//def//ghi", "abc/def/ghi"),
        ("abc/./def", "abc/def"), ("/./abc/def", "/abc/def"), ("abc/def/../ghi/../jkl", "abc/jkl"),
        ("abc/..", "."), ("/abc/..", "/"), ("/..", "/"), ("../../abc", "../../abc"),
        ("abc/../../../def", "../../def"), ("/../abc", "/abc"), ("/etc/shellhub.key", "/etc/shellhub.key"),
    ])
    func cleansLikeGo(path: String, clean: String) {
        #expect(GoSyntax.cleanPath(path) == clean)
    }
}
