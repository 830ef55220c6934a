/// Starts the SSH server side of a session on a local fd (one end of a socketpair); returns
/// false when it cannot. The runtime owns the other end through an `FdPump`.
protocol SessionServer: AnyObject {
    func startSession(fd: Int32, sessionID: String) -> Bool
    /// The server asked to close the session: end it (its fd then reaches EOF).
    func closeSession(sessionID: String)
}
