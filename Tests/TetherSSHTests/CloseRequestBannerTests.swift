import Testing
@testable import TetherSSH

/// ShellHub's gateway writes `DELETE /ssh/close/<uid> HTTP/1.1` into a session stream it gave
/// up before starting SSH on it; libssh reports that line as the peer's banner.
@Suite struct CloseRequestBannerTests {
    @Test func recognisesTheGatewaysCloseRequest() {
        #expect(SSHFailure(
            "No version of SSH protocol usable (banner: DELETE /ssh/close/a9906d5378d019d8 HTTP/1.1)") == .closeRequestBanner)
    }

    @Test func otherBannerErrorsStayErrors() {
        #expect(SSHFailure(
            "No version of SSH protocol usable (banner: GET / HTTP/1.1)") != .closeRequestBanner)
        #expect(SSHFailure("Socket error: Connection reset by peer") != .closeRequestBanner)
        #expect(SSHFailure("") != .closeRequestBanner)
        #expect(SSHFailure("DELETE /ssh/close/") != .closeRequestBanner)
    }

    @Test func aDisconnectFromThePeerIsNamed() {
        #expect(SSHFailure("Received SSH_MSG_DISCONNECT: 11:disconnected by user") == .peerDisconnected)
        #expect(SSHFailure("Socket error: disconnected") == .other)
    }
}
