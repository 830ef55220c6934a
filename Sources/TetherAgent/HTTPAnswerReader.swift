import TetherWire

/// Collects one HTTP response (head and body, bounded) from the bytes the runtime feeds it;
/// shared by the sans-I/O API exchanges (device auth, pairing).
public struct HTTPAnswerReader {
    public enum Result {
        /// The whole response.
        case complete(HTTPResponseHead, [UInt8])
        /// Malformed, too large, or cut short by EOF.
        case broken
    }

    private var parser: HTTPResponseParser
    private var head: HTTPResponseHead? = nil
    private var body: [UInt8] = []
    public private(set) var result: Result? = nil

    public init(maxBodyBytes: Int) {
        parser = HTTPResponseParser(limits: HTTPLimits(maxBodyBytes: maxBodyBytes))
    }

    /// Feeds response bytes; the result once the response is complete or broken.
    public mutating func receive<C: Collection>(_ bytes: C) -> Result? where C.Element == UInt8 {
        guard result == nil else { return result }
        parser.feed(bytes)
        return drain(atEOF: false)
    }

    /// EOF: a response cut short is broken.
    public mutating func finish() -> Result {
        if let r = result { return r }
        return drain(atEOF: true) ?? conclude(.broken)
    }

    private mutating func drain(atEOF: Bool) -> Result? {
        do {
            while true {
                let event = try (atEOF ? parser.finish() : parser.next())
                guard let event else { return nil }
                switch event {
                case .head(let h): head = h
                case .body(let b): body.append(contentsOf: b)
                case .end:
                    guard let head else { return conclude(.broken) }
                    return conclude(.complete(head, body))
                }
            }
        } catch {
            return conclude(.broken)
        }
    }

    private mutating func conclude(_ r: Result) -> Result {
        result = r
        return r
    }

    /// `Retry-After` in delta-seconds (an HTTP date is ignored: no wall clock here).
    public static func retryAfterSeconds(_ head: HTTPResponseHead) -> Int? {
        guard let text = head.headers["Retry-After"] else { return nil }
        let b = Array(text.utf8)
        guard !b.isEmpty, b.count <= 9, b.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return b.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }
}
