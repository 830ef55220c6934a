/// Why libssh gave a connection up, in the cases the server treats apart. libssh 0.10 reports
/// them only as error text (`ssh_get_error`), so the text is read here, once, and the rest of
/// the code matches on the case.
enum SSHFailure: Equatable {
    /// "No version of SSH protocol usable (banner: DELETE /ssh/close/...)": the peer's first
    /// line was ShellHub's close request, not an SSH version (PROTOCOL.md 6).
    case closeRequestBanner
    /// "Received SSH_MSG_DISCONNECT ...": the peer said goodbye.
    case peerDisconnected
    case other

    init(_ text: String) {
        if text.hasPrefix("Received SSH_MSG_DISCONNECT") {
            self = .peerDisconnected
        } else if SSHFailure.contains(text, "(banner: DELETE /ssh/close/") {
            self = .closeRequestBanner
        } else {
            self = .other
        }
    }

    private static func contains(_ text: String, _ part: String) -> Bool {
        let needle = Array(part.utf8)
        let hay = Array(text.utf8)
        guard hay.count >= needle.count else { return false }
        for start in 0...(hay.count - needle.count) where hay[start] == needle[0] {
            if Array(hay[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }
}
