/// One fd a connection wants polled, with poll(2) event bits (POLLIN, POLLOUT).
public struct SSHPollInterest: Equatable {
    public var fd: Int32
    public var events: Int16

    public init(fd: Int32, events: Int16) {
        self.fd = fd
        self.events = events
    }
}
