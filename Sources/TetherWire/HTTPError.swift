/// Why an HTTP/1.1 message (or a URL) was rejected.
public enum HTTPError: Error, Equatable {
    /// The head (start line + headers) exceeds `HTTPLimits.maxHeadBytes` without ending.
    case headTooLarge(limit: Int)
    /// More header lines than `HTTPLimits.maxHeaderCount`.
    case tooManyHeaders(limit: Int)
    /// The status line is not `HTTP/1.x NNN reason`.
    case invalidStatusLine
    /// The request line is not `METHOD target HTTP/1.x`.
    case invalidRequestLine
    /// An HTTP version other than 1.0 or 1.1.
    case unsupportedVersion
    /// A header line without a colon, with an invalid name, or with control bytes in its value.
    case invalidHeaderLine
    /// A line that starts with whitespace (obsolete folding, RFC 9112 5.2 says reject).
    case obsoleteLineFolding
    /// `Content-Length` that is not a decimal number, or several that disagree.
    case invalidContentLength
    /// A body (declared or decoded) larger than `HTTPLimits.maxBodyBytes`.
    case bodyTooLarge(limit: Int)
    /// A chunk-size line that is not hex, too long, or a chunk not followed by CRLF.
    case invalidChunk
    /// The connection ended inside a head or a length-delimited body.
    case truncatedMessage
    /// Request writer: method, target, header name or value unfit for the wire (CR/LF, spaces).
    case invalidRequestField(String)
    /// URL parser: not an absolute `http`/`https` URL this agent can use.
    case invalidURL(String)
}

/// Bounds for parsing untrusted HTTP. The device API's heads are a few hundred bytes; Go's own
/// server limit is 1 MiB, its client reads at most 10 MiB of response headers.
public struct HTTPLimits {
    public var maxHeadBytes: Int
    public var maxHeaderCount: Int
    public var maxBodyBytes: Int

    public static let defaultMaxHeadBytes = 16 * 1024
    public static let defaultMaxHeaderCount = 100
    public static let defaultMaxBodyBytes = 1024 * 1024
    /// Longest chunk-size line (size, extensions, CRLF) accepted.
    public static let maxChunkLineBytes = 1024

    public init(
        maxHeadBytes: Int = HTTPLimits.defaultMaxHeadBytes,
        maxHeaderCount: Int = HTTPLimits.defaultMaxHeaderCount,
        maxBodyBytes: Int = HTTPLimits.defaultMaxBodyBytes
    ) {
        self.maxHeadBytes = maxHeadBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
    }
}
