import Testing
@testable import TetherSSH

@Suite struct SessionEnvironmentTests {
    let account = UserAccount(name: "alice", uid: 1000, gid: 1000, home: "/home/alice", shell: "/bin/sh")

    @Test func clientVariablesFilter() {
        #expect(SessionEnvironment.acceptsClientVariable(name: "LANG", value: "de_DE.UTF-8"))
        #expect(SessionEnvironment.acceptsClientVariable(name: "LC_ALL", value: "C"))
        #expect(!SessionEnvironment.acceptsClientVariable(name: "LC_", value: "C"))
        #expect(!SessionEnvironment.acceptsClientVariable(name: "PATH", value: "/evil"))
        #expect(!SessionEnvironment.acceptsClientVariable(name: "LD_PRELOAD", value: "/x.so"))
        #expect(!SessionEnvironment.acceptsClientVariable(name: "LC_A=B", value: "C"))
        #expect(!SessionEnvironment.acceptsClientVariable(name: "LANG", value: String(repeating: "a", count: 300)))
    }

    @Test func builtFromScratchWithLocaleFile() {
        let dir = TestSupport.tempDir()
        TestSupport.write(dir + "/locale", "# comment\nexport LANG=\"en_GB.UTF-8\"\nLC_TIME=C\nPATH=/bin\n")
        let env = SessionEnvironment(
            term: "screen", account: account, shell: "/bin/sh", deviceName: "router-1",
            localeFiles: [dir + "/missing", dir + "/locale"],
            clientVariables: [("LC_TIME", "de_DE.UTF-8")]
        ).entries()
        #expect(env == [
            "TERM=screen", "HOME=/home/alice", "SHELL=/bin/sh", "USER=alice", "LOGNAME=alice",
            "SHELLHUB_HOST=router-1", "SSH_CLIENT=127.0.0.1 0 0", "LANG=en_GB.UTF-8",
            "LC_TIME=de_DE.UTF-8",
        ])
    }

    @Test func defaultsWithoutLocaleOrPty() {
        let env = SessionEnvironment(
            term: nil, account: account, shell: "/bin/sh", deviceName: "d", localeFiles: [],
            clientVariables: []
        ).entries()
        #expect(env.contains("TERM=xterm"))
        #expect(env.contains("LANG=C.UTF-8"))
        #expect(!env.contains { $0.hasPrefix("PATH=") })
    }
}
