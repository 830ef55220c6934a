import Testing
@testable import TetherAgent

@Suite struct ServerAddressTests {
    @Test func httpsWithDefaultPort() throws {
        let a = try ServerAddress.parse("https://cloud.shellhub.io").get()
        #expect(a.scheme == .https)
        #expect(a.usesTLS)
        #expect(a.host == "cloud.shellhub.io")
        #expect(a.port == 443)
        #expect(a.authority == "cloud.shellhub.io")
        #expect(a.pathPrefix == "")
        #expect(a.target("/api/devices/auth") == "/api/devices/auth")
    }

    @Test func pathPrefixIsKept() throws {
        let a = try ServerAddress.parse("HTTP://Hub.Example:8080/shellhub/").get()
        #expect(a.scheme == .http)
        #expect(!a.usesTLS)
        #expect(a.host == "hub.example")
        #expect(a.port == 8080)
        #expect(a.authority == "Hub.Example:8080")
        #expect(a.target("/agent/connection") == "/shellhub/agent/connection")
    }

    @Test func ipv6Literal() throws {
        let a = try ServerAddress.parse("http://[::1]:3000").get()
        #expect(a.host == "::1")
        #expect(a.port == 3000)
        #expect(a.authority == "[::1]:3000")
    }

    @Test(arguments: [
        ("cloud.shellhub.io", ServerAddress.ParseFailure.notAbsolute),
        ("/just/a/path", .notAbsolute), ("ftp://x", .badScheme), ("https:x", .notAbsolute),
        ("https://", .noHost), ("https://:443", .noHost), ("https://h:0", .badPort),
        ("https://h:65536", .badPort), ("https://h:", .badPort), ("https://u:p@h", .userInfo),
        ("https://h/?x=1", .queryOrFragment), ("https://h#f", .queryOrFragment),
        ("https://h h", .badHost), ("http://[::1", .badHost), ("https://h/a b", .badPath),
    ])
    func refused(text: String, failure: ServerAddress.ParseFailure) {
        #expect(ServerAddress.parse(text) == .failure(failure))
    }
}
