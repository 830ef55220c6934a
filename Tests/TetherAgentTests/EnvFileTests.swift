import Testing
@testable import TetherAgent

@Suite struct EnvFileTests {
    @Test func parsesInstallerStyleFile() throws {
        let text = """
            # written by agent install
            SHELLHUB_SERVER_ADDRESS=https://hub.example.com
            SHELLHUB_TENANT_ID="00000000-0000-4000-0000-000000000000"
              export SHELLHUB_PRIVATE_KEY = '/var/lib/shellhub/key'\r
            TETHER_LOG=syslog   # inline comment
            EMPTY=
            SHELLHUB_PREFERRED_HOSTNAME=board#17

            TETHER_SESSION_SLOTS=4
            TETHER_SESSION_SLOTS=6
            """
        let file = try EnvFile(parsing: text)
        #expect(file.value("SHELLHUB_SERVER_ADDRESS") == "https://hub.example.com")
        #expect(file.value("SHELLHUB_TENANT_ID") == "00000000-0000-4000-0000-000000000000")
        #expect(file.value("SHELLHUB_PRIVATE_KEY") == "/var/lib/shellhub/key")
        #expect(file.value("TETHER_LOG") == "syslog")
        #expect(file.value("EMPTY") == "")
        // '#' only starts a comment after whitespace, as in shells.
        #expect(file.value("SHELLHUB_PREFERRED_HOSTNAME") == "board#17")
        #expect(file.value("TETHER_SESSION_SLOTS") == "6")
        #expect(file.value("MISSING") == nil)
        #expect(file.entries.count == 8)
    }

    @Test func doubleQuotesUnescapeSingleQuotesDoNot() throws {
        let file = try EnvFile(parsing: #"A="x\"y\\z\$"  # c"# + "\n" + #"B='x\"y $Z'"#)
        #expect(file.value("A") == #"x"y\z$"#)
        #expect(file.value("B") == #"x\"y $Z"#)
    }

    @Test func crypt6HashSurvivesSingleQuotes() throws {
        let hash = "$6$salt$abc/def.ghi"
        let file = try EnvFile(parsing: "SHELLHUB_SINGLE_USER_PASSWORD='\(hash)'")
        #expect(file.value("SHELLHUB_SINGLE_USER_PASSWORD") == hash)
    }

    @Test(arguments: [
        ("A=1\nnot a line", 2), ("A=\"open", 1), ("=1", 1), ("1A=2", 1), ("A='x' y", 1),
        ("\n\nA B=1", 3),
    ])
    func reportsFirstBadLine(text: String, line: Int) {
        #expect(throws: ConfigError.self) { try EnvFile(parsing: text) }
        do {
            _ = try EnvFile(parsing: text)
        } catch {
            guard case .fileSyntax(let l, _) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(l == line)
        }
    }
}
