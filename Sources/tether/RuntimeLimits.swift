import CShims
import TetherAgent
import TetherPlatform
import TetherSSH
import TetherWire

/// Sizes of the event loop's fixed tables, from the number of session slots. Each slot has its
/// own share reserved, so a free slot is always usable however much the others hold.
enum RuntimeLimits {
    /// Tunnel, API calls, signals, one pipe per resolver lookup, and the v1 dial-backs not
    /// yet given a slot.
    static let baseDescriptors = 15 + ResolverLimits.lookups + V1Sessions.maxPendingDialBacks
    /// Per session: its v1 dial-back, the tunnel side of its socketpair, one key-oracle call,
    /// and its SSH connection at its most (socket and every channel's fds).
    static let descriptorsPerSession = 3 + SSHLimits.descriptorsPerConnection
    /// Most timers one connection (a `Link`: connect attempt or handshake/close deadline, a
    /// deferred read, a deferred close notice) with its WebSocket or API deadline holds.
    static let timersPerConnection = 4
    /// Control link, API call, runtime and tunnel deadlines, resolver lookups and reaping;
    /// and the v1 dial-backs not yet given a slot.
    static let baseTimers = 32 + timersPerConnection * V1Sessions.maxPendingDialBacks
    /// Per session: its v1 dial-back, one key-oracle call, its SSH connection's deadline.
    static let timersPerSession = 2 * timersPerConnection + 1

    static func descriptors(slots: Int) -> Int { baseDescriptors + descriptorsPerSession * slots }
    static func timers(slots: Int) -> Int { baseTimers + timersPerSession * slots }
}
