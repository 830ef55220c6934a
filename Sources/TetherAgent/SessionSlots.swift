/// The fixed pool of session slots, sized once at start: at most `capacity` SSH sessions and
/// proxied connections live at once, whatever the server asks for, and the pool never grows.
///
/// A slot records what it serves (`SlotPurpose`), the transport it rides on (a v2 stream id or
/// a v1 dial-back connection index) and the session id the server named it by, so a close
/// request (`/ssh/close/1.0.0` or `GET /ssh/close/<id>`) finds it. Ids are kept in one
/// preallocated byte table; lookups are linear scans over a few dozen slots.
public struct SessionSlots: Sendable {
    /// Longest session id kept: SHA-512 KEX session ids are 128 hex digits (PROTOCOL.md 6).
    public static let maxSessionIDLength = 128

    public enum Acquire: Equatable, Sendable {
        case acquired(slot: Int)
        /// Every slot is busy: refuse the stream (RST) or dial-back (close), log one line.
        case full
        /// The id is longer than `maxSessionIDLength`; refuse it like a full pool.
        case sessionIDTooLong
    }

    private var used: [Bool]
    private var transports: [SlotTransport]
    private var purposes: [SlotPurpose]
    private var idLengths: [Int]
    private var idBytes: [UInt8]
    /// Per slot: a proxy whose dial result the runtime has not reported yet.
    private var dialing: [Bool]
    public private(set) var inUse = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "at least one session slot")
        used = [Bool](repeating: false, count: capacity)
        transports = [SlotTransport](repeating: .stream(0), count: capacity)
        purposes = [SlotPurpose](repeating: .ssh, count: capacity)
        idLengths = [Int](repeating: 0, count: capacity)
        idBytes = [UInt8](repeating: 0, count: capacity * Self.maxSessionIDLength)
        dialing = [Bool](repeating: false, count: capacity)
    }

    public var capacity: Int { used.count }
    public var isFull: Bool { inUse == capacity }

    /// Takes the lowest free slot for a session named `sessionID` on `transport`.
    public mutating func acquire(
        sessionID: String, transport: SlotTransport, purpose: SlotPurpose
    ) -> Acquire {
        let id = sessionID.utf8
        guard id.count <= Self.maxSessionIDLength else { return .sessionIDTooLong }
        guard let slot = used.firstIndex(of: false) else { return .full }
        used[slot] = true
        transports[slot] = transport
        purposes[slot] = purpose
        dialing[slot] = purpose == .proxy
        idLengths[slot] = id.count
        var at = slot * Self.maxSessionIDLength
        for b in id {
            idBytes[at] = b
            at += 1
        }
        inUse += 1
        return .acquired(slot: slot)
    }

    /// A slot for a proxied connection the server names by no session id (v1 `CONNECT`).
    public mutating func acquireProxy(transport: SlotTransport) -> Acquire {
        acquire(sessionID: "", transport: transport, purpose: .proxy)
    }

    /// Frees a slot for reuse; releasing a free slot is a no-op.
    public mutating func release(_ slot: Int) {
        guard used[slot] else { return }
        used[slot] = false
        idLengths[slot] = 0
        dialing[slot] = false
        inUse -= 1
    }

    public func isInUse(_ slot: Int) -> Bool { used[slot] }

    /// The dial result of a proxied slot has come: returns its transport the first time (the
    /// reply goes out on it), nil for a slot that is not waiting for one (freed meanwhile, or
    /// already answered), so each dial is answered once.
    public mutating func proxyDialed(_ slot: Int) -> SlotTransport? {
        guard used[slot], dialing[slot] else { return nil }
        dialing[slot] = false
        return transports[slot]
    }

    public func transport(of slot: Int) -> SlotTransport? { used[slot] ? transports[slot] : nil }

    public func purpose(of slot: Int) -> SlotPurpose? { used[slot] ? purposes[slot] : nil }

    /// The session id of a slot (allocates a String: for logs and replies, not hot paths).
    public func sessionID(of slot: Int) -> String? {
        guard used[slot] else { return nil }
        let start = slot * Self.maxSessionIDLength
        return String(decoding: idBytes[start..<start + idLengths[slot]], as: UTF8.self)
    }

    /// The slot of the SSH session named `sessionID` (close requests name SSH sessions only).
    public func slot(forSession sessionID: String) -> Int? {
        let id = sessionID.utf8
        for slot in used.indices where used[slot] && purposes[slot] == .ssh && idLengths[slot] == id.count {
            var at = slot * Self.maxSessionIDLength
            var same = true
            for b in id {
                if idBytes[at] != b { same = false; break }
                at += 1
            }
            if same { return slot }
        }
        return nil
    }

    /// The slot riding on `transport`, if any.
    public func slot(for transport: SlotTransport) -> Int? {
        for slot in used.indices where used[slot] && transports[slot] == transport { return slot }
        return nil
    }
}

/// What a slot's bytes travel on.
public enum SlotTransport: Equatable, Sendable {
    /// A yamux stream of the v2 tunnel.
    case stream(UInt32)
    /// A v1 dial-back WebSocket, by the runtime's connection index.
    case dialBack(Int)
}

/// What a slot serves.
public enum SlotPurpose: Equatable, Sendable {
    /// An SSH connection to the agent's SSH server.
    case ssh
    /// A TCP connection proxied to host:port (`/http/proxy/1.0.0`).
    case proxy
}
