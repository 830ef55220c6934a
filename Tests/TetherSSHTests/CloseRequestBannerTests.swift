import Testing
@testable import TetherSSH

/// ShellHub's gateway writes `DELETE /ssh/close/<uid> HTTP/1.1` into a session stream it gave
/// up before starting SSH on it; libssh reports that line as the peer's banner.
@Suite struct CloseRequestBannerTests {
    @Test func recognisesTheGatewaysCloseRequest() {
        #expect(SSHServerConnection.isCloseRequestBanner(
            "No version of SSH protocol usable (banner: DELETE /ssh/close/a9906d5378d019d8 HTTP/1.1)"))
    }

    @Test func otherBannerErrorsStayErrors() {
        #expect(!SSHServerConnection.isCloseRequestBanner(
            "No version of SSH protocol usable (banner: GET / HTTP/1.1)"))
        #expect(!SSHServerConnection.isCloseRequestBanner("Socket error: Connection reset by peer"))
        #expect(!SSHServerConnection.isCloseRequestBanner(""))
        #expect(!SSHServerConnection.isCloseRequestBanner("DELETE /ssh/close/"))
    }
}
