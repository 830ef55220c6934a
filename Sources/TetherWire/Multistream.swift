/// The per-stream protocols the agent serves over v2 (PROTOCOL.md 5.2, 6). Ids are exact-match
/// constants of ShellHub; changing one is wire-incompatible.
public enum MultistreamProtocol: Equatable, Sendable {
    case sshOpen
    case sshClose
    case httpProxy

    public var id: String {
        switch self {
        case .sshOpen: return "/ssh/open/1.0.0"
        case .sshClose: return "/ssh/close/1.0.0"
        case .httpProxy: return "/http/proxy/1.0.0"
        }
    }

    static let all: [MultistreamProtocol] = [.sshOpen, .sshClose, .httpProxy]

    static func matching<C: Collection>(_ token: C) -> MultistreamProtocol? where C.Element == UInt8 {
        for p in all where p.id.utf8.elementsEqual(token) { return p }
        return nil
    }
}

/// Why multistream negotiation on a stream failed; the caller resets the stream.
public enum MultistreamError: Error, Equatable {
    /// A length prefix that is not a minimal unsigned LEB128 varint.
    case invalidVarint
    /// A message longer than `Multistream.maxMessageBytes`.
    case messageTooLong(Int)
    /// A message that does not end with `\n` (or is empty).
    case missingNewline
    /// The peer's first message is not `/multistream/1.0.0`.
    case wrongMultistreamHeader
    /// More than `Multistream.maxProposals` protocol ids were refused on one stream.
    case tooManyProposals
    /// The JSON header line exceeds `Multistream.maxHeaderLineBytes` without a newline.
    case headerLineTooLong
    /// The JSON header line is not a usable header object.
    case invalidHeaderLine(ShellHubAPIError)
}

/// multistream-select 1.0 framing (go-multistream v0.6.1): each message is an unsigned LEB128
/// varint length, then that many bytes, the last of which is `\n`.
public enum Multistream {
    public static let protocolID = "/multistream/1.0.0"
    public static let notAvailable = "na"
    /// go-multistream refuses messages above 1024 bytes.
    public static let maxMessageBytes = 1024
    /// Refused ids tolerated per stream before giving up (ShellHub proposes exactly one).
    public static let maxProposals = 16
    /// Longest JSON header line accepted (the server's are under 300 bytes).
    public static let maxHeaderLineBytes = 4096

    /// `varint(len(text)+1) text \n`.
    public static func encode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var n = UInt64(text.utf8.count + 1)
        while n >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: n) | 0x80)
            n >>= 7
        }
        out.append(UInt8(n))
        out.append(contentsOf: text.utf8)
        out.append(0x0A)
        return out
    }

    /// Reads one message from the front of `buf`: nil while incomplete, else its text without
    /// the newline, consuming it.
    static func readMessage(_ buf: inout ByteBuffer) throws(MultistreamError) -> [UInt8]? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var i = 0
        while true {
            guard i < buf.count else { return nil }
            let b = buf[i]
            i += 1
            value |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 {
                // A final zero byte after continuation bytes is a non-minimal encoding.
                if b == 0 && i > 1 { throw .invalidVarint }
                break
            }
            shift += 7
            if i >= 9 { throw .invalidVarint }
            if value > UInt64(maxMessageBytes) { throw .messageTooLong(Int(clamping: value)) }
        }
        if value > UInt64(maxMessageBytes) { throw .messageTooLong(Int(value)) }
        let length = Int(value)
        guard buf.count >= i + length else { return nil }
        guard length > 0, buf[i + length - 1] == 0x0A else { throw .missingNewline }
        buf.consume(i)
        var msg = buf.read(length)
        msg.removeLast()
        return msg
    }
}

/// What the listener reports.
public enum MultistreamEvent: Equatable {
    /// The peer proposed an id we do not serve; `na` is queued and the next id awaited.
    case declined(String)
    /// Negotiation done: the protocol, its JSON header, and the bytes that followed the header's
    /// newline (already the next layer's, e.g. the first SSH bytes).
    case ready(MultistreamProtocol, StreamHeader, leftover: [UInt8])
}

/// Listener side of multistream-select on one yamux stream (PROTOCOL.md 5.2 steps 1-4): our
/// `/multistream/1.0.0` is queued at creation (sent without waiting), the peer's header is
/// checked, known ids are echoed and unknown ones answered `na`, then the JSON header line is
/// read exactly up to its newline.
public struct MultistreamListener {
    enum State: Equatable {
        case peerHeader
        case proposal(declined: Int)
        case headerLine(MultistreamProtocol)
        case done
    }

    var state: State = .peerHeader
    var input = ByteBuffer()
    var output: [UInt8]
    var failure: MultistreamError? = nil

    public init() {
        output = Multistream.encode(Multistream.protocolID)
    }

    public mutating func feed<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        input.append(bytes)
    }

    /// Bytes to write on the stream; empties the buffer.
    public mutating func takeOutput() -> [UInt8] {
        let out = output
        output = []
        return out
    }

    public var hasOutput: Bool { !output.isEmpty }

    public var isDone: Bool { state == .done }

    /// The next event; nil when more input is needed (or negotiation is over). Errors are final.
    public mutating func next() throws(MultistreamError) -> MultistreamEvent? {
        if let f = failure { throw f }
        do { return try step() } catch {
            failure = error  // final: every later call throws it again
            throw error
        }
    }

    mutating func step() throws(MultistreamError) -> MultistreamEvent? {
        while true {
            switch state {
            case .done:
                return nil
            case .peerHeader:
                guard let msg = try Multistream.readMessage(&input) else { return nil }
                guard msg.elementsEqual(Multistream.protocolID.utf8) else { throw .wrongMultistreamHeader }
                state = .proposal(declined: 0)
            case .proposal(let declined):
                guard let msg = try Multistream.readMessage(&input) else { return nil }
                if let p = MultistreamProtocol.matching(msg) {
                    output.append(contentsOf: Multistream.encode(p.id))
                    state = .headerLine(p)
                    continue
                }
                if declined + 1 > Multistream.maxProposals { throw .tooManyProposals }
                output.append(contentsOf: Multistream.encode(Multistream.notAvailable))
                state = .proposal(declined: declined + 1)
                return .declined(String(decoding: msg, as: UTF8.self))
            case .headerLine(let p):
                guard let nl = input.firstIndex(of: 0x0A, limit: Multistream.maxHeaderLineBytes) else {
                    if input.count >= Multistream.maxHeaderLineBytes { throw .headerLineTooLong }
                    return nil
                }
                let line = input.read(nl + 1)
                let header: StreamHeader
                do {
                    header = try StreamHeader.parse(line)
                } catch {
                    throw .invalidHeaderLine(error)
                }
                state = .done
                return .ready(p, header, leftover: input.readAll())
            }
        }
    }
}
