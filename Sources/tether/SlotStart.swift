import CShims
import TetherPlatform

/// Starting a slot's local end, the same for both transports.
enum SlotStart {
    /// An SSH session: a bounded socketpair whose one end the session server takes and whose
    /// other end becomes the slot's pump (an `FdPump`, as a proxied slot's TCP socket
    /// does in `ProxyDial`). nil (logged) when it cannot start.
    static func ssh(_ ctx: RuntimeContext, sessions: SessionServer?, slot: Int, sessionID: String,
                    initial: [UInt8], owner: FdPumpOwner) -> FdPump? {
        var pair: [Int32] = [-1, -1]
        let rc = sessions == nil ? 0 : pair.withUnsafeMutableBufferPointer { tether_socketpair_nonblock($0.baseAddress) }
        guard let sessions, rc == 0 else {
            ctx.log.error("session " + String(sessionID.prefix(12)) + ": cannot start SSH"
                          + (rc < 0 ? ": socketpair: " + Errno.text(-rc) : ""))
            return nil
        }
        let pump = FdPump(loop: ctx.loop, fd: pair[0], tag: slot, owner: owner)
        guard let pump, sessions.startSession(fd: pair[1], sessionID: sessionID) else {
            // A pump that was made is unregistered with its fd, not left on the loop.
            if let pump { pump.terminate() } else { Socket.close(pair[0]) }
            Socket.close(pair[1])
            ctx.log.error("session " + String(sessionID.prefix(12)) + ": cannot start SSH")
            return nil
        }
        ctx.log.info("session " + String(sessionID.prefix(12)) + " opened in slot " + String(slot))
        if !initial.isEmpty { pump.deliver(initial) }
        return pump
    }
}
