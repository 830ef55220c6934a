/// Decoder for `Transfer-Encoding: chunked` bodies (RFC 9112 7.1): hex size line (extensions
/// ignored), data, CRLF, ..., zero-size chunk, trailer lines (ignored), blank line.
public struct HTTPChunkedDecoder {
    enum State: Equatable {
        case sizeLine
        case data(remaining: Int64)
        case dataEnd
        case trailers(bytesSoFar: Int)
        case done
    }

    /// One step of decoding.
    public enum Output: Equatable {
        case data([UInt8])
        case end
    }

    var state: State = .sizeLine
    var decodedTotal: Int64 = 0
    let limits: HTTPLimits

    public init(limits: HTTPLimits = HTTPLimits()) { self.limits = limits }

    public var isDone: Bool { state == .done }

    /// Decodes from the front of `buf`, consuming what it uses. Returns nil when more input is
    /// needed.
    public mutating func next(_ buf: inout ByteBuffer) throws(HTTPError) -> Output? {
        while true {
            switch state {
            case .done:
                return nil
            case .sizeLine:
                guard let nl = buf.firstIndex(of: 0x0A, limit: HTTPLimits.maxChunkLineBytes) else {
                    if buf.count >= HTTPLimits.maxChunkLineBytes { throw .invalidChunk }
                    return nil
                }
                let size = try HTTPChunkedDecoder.chunkSize(buf.readable.prefix(nl))
                buf.consume(nl + 1)
                if size == 0 {
                    state = .trailers(bytesSoFar: 0)
                    continue
                }
                decodedTotal += size
                if decodedTotal > Int64(limits.maxBodyBytes) { throw .bodyTooLarge(limit: limits.maxBodyBytes) }
                state = .data(remaining: size)
            case .data(let remaining):
                if buf.isEmpty { return nil }
                let n = Int(Swift.min(remaining, Int64(buf.count)))
                let piece = buf.read(n)
                state = remaining == Int64(n) ? .dataEnd : .data(remaining: remaining - Int64(n))
                return .data(piece)
            case .dataEnd:
                if buf.count < 2 { return nil }
                guard buf[0] == 0x0D, buf[1] == 0x0A else { throw .invalidChunk }
                buf.consume(2)
                state = .sizeLine
            case .trailers(let soFar):
                let room = limits.maxHeadBytes - soFar
                guard let nl = buf.firstIndex(of: 0x0A, limit: room) else {
                    if buf.count >= room { throw .headTooLarge(limit: limits.maxHeadBytes) }
                    return nil
                }
                let blank = nl == 0 || (nl == 1 && buf[0] == 0x0D)
                buf.consume(nl + 1)
                if blank {
                    state = .done
                    return .end
                }
                state = .trailers(bytesSoFar: soFar + nl + 1)
            }
        }
    }

    /// Parses `1a3f[;ext...][\r]`.
    static func chunkSize(_ line: ArraySlice<UInt8>) throws(HTTPError) -> Int64 {
        var size: Int64 = 0
        var digits = 0
        for c in line {
            let d: Int64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = Int64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = Int64(c - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = Int64(c - UInt8(ascii: "A")) + 10
            case UInt8(ascii: ";"), UInt8(ascii: " "), UInt8(ascii: "\t"), 0x0D:
                guard digits > 0 else { throw .invalidChunk }
                return size
            default:
                throw .invalidChunk
            }
            digits += 1
            if digits > 15 { throw .invalidChunk }
            size = size << 4 | d
        }
        guard digits > 0 else { throw .invalidChunk }
        return size
    }
}
