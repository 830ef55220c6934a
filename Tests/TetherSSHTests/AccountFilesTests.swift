import Testing
@testable import TetherSSH

@Suite struct AccountFilesTests {
    @Test func shadowLookup() {
        let dir = TestSupport.tempDir()
        let path = dir + "/shadow"
        TestSupport.write(path, """
            root:$6$saltsalt$abc:19000:0:99999:7:::
            broken line without colons
            daemon:*:19000:0:99999:7:::
            alice:!$y$j9T$x$y:19000:0:99999:7:::
            bob::19000:0:99999:7:::

            """)
        let shadow = ShadowFile(path: path)
        #expect(shadow.lookup("root") == .hash("$6$saltsalt$abc"))
        #expect(shadow.lookup("daemon") == .hash("*"))
        #expect(shadow.lookup("alice") == .hash("!$y$j9T$x$y"))
        #expect(shadow.lookup("bob") == .hash(""))
        // An unknown user's lookup carries the first real crypt hash as the decoy to burn.
        #expect(shadow.lookup("carol") == .noSuchUser(decoy: "$6$saltsalt$abc"))
        #expect(shadow.lookup("") == .noSuchUser(decoy: "$6$saltsalt$abc"))
        TestSupport.write(dir + "/shadow-nohash", "daemon:*:19000:0:99999:7:::\nbob::19000::::::\n")
        #expect(ShadowFile(path: dir + "/shadow-nohash").lookup("carol") == .noSuchUser(decoy: nil))
        #expect(ShadowFile(path: dir + "/missing").lookup("root") == .unreadable)
    }

    @Test func passwdLookup() {
        let dir = TestSupport.tempDir()
        let path = dir + "/passwd"
        TestSupport.write(path, """
            root:x:0:0:root:/root:/bin/bash
            bad:x:notanumber:0::/:/bin/sh
            nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
            noshell:x:1001:1001::/home/noshell:
            """)
        let passwd = PasswdFile(path: path)
        #expect(passwd.account(named: "root") == UserAccount(name: "root", uid: 0, gid: 0, home: "/root", shell: "/bin/bash"))
        #expect(passwd.account(uid: 65534)?.name == "nobody")
        #expect(passwd.account(named: "noshell")?.shell == "")
        #expect(passwd.account(named: "bad") == nil)
        #expect(passwd.account(named: "ghost") == nil)
    }
}
