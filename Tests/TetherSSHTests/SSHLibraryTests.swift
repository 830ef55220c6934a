import Testing
@testable import TetherSSH

@Suite struct SSHLibraryTests {
    @Test func libsshIsServerCapable() {
        #expect(SSHLibrary.version.hasPrefix("0.10."))
        #expect(SSHLibrary.canCreateServerBind())
    }
}
