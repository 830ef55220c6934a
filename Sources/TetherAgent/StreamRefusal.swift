/// Why a v2 stream, a v1 dial-back or a v1 conn-ready was refused.
public enum StreamRefusal: Equatable, Sendable {
    case slotsFull
    case tooManyNegotiating
    case negotiationFailed
    case negotiationTimeout
    case badHeader
    /// A SYN over yamux's stream limit (slots plus negotiating streams, all taken).
    case tooManyStreams
    /// A stream we half-closed that the server never closed: reset after `closeTimeout`.
    case closeTimeout

    /// The refusal in a log line, in the words of the transport it happened on (v1 negotiates
    /// an HTTP request head on a dial-back where v2 negotiates multistream on a stream).
    public func text(_ transport: TransportVersion) -> String {
        switch self {
        case .slotsFull: return "all session slots busy"
        case .tooManyNegotiating:
            return transport == .v1 ? "too many dial-backs pending" : "too many streams negotiating"
        case .negotiationFailed:
            return transport == .v1 ? "request head unreadable" : "multistream negotiation failed"
        case .negotiationTimeout:
            return transport == .v1 ? "request head timed out" : "negotiation timed out"
        case .badHeader: return transport == .v1 ? "not a dial-back request" : "bad header line"
        // Yamux's own (v2 only).
        case .tooManyStreams: return "stream limit reached"
        case .closeTimeout: return "not closed by the server in time"
        }
    }
}
