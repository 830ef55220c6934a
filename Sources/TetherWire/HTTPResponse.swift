/// An HTTP/1.1 response to write, for the v1 dial-back answers (PROTOCOL.md 6): `200` with an
/// empty body for `/ssh/close/<id>`, a bare `200` head before relaying for `CONNECT
/// /http/proxy/...`, a `500` with a text body when the proxy dial fails.
public struct HTTPResponse {
    /// How the body is delimited.
    public enum Framing {
        /// `Content-Length: <body size>` (also for an empty body).
        case contentLength
        /// No length header and no body: a successful CONNECT, after which the connection is a
        /// raw tunnel (RFC 9110 9.3.6 forbids a length there).
        case tunnel
    }

    public var statusCode: Int
    public var reason: String
    public var headers: HTTPHeaders
    public var body: [UInt8]
    public var framing: Framing

    public init(statusCode: Int, reason: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [],
                framing: Framing = .contentLength) {
        self.statusCode = statusCode
        self.reason = reason
        self.headers = headers
        self.body = body
        self.framing = framing
    }

    public func encode() throws(HTTPError) -> [UInt8] {
        guard statusCode >= 100 && statusCode <= 999 else { throw .invalidRequestField("status") }
        guard reason.utf8.allSatisfy(HTTPSyntax.isFieldValueByte) else { throw .invalidRequestField("reason") }
        var out: [UInt8] = []
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        out.append(contentsOf: JSONNumber.decimal(Int64(statusCode)).utf8)
        out.append(0x20)
        out.append(contentsOf: reason.utf8)
        out.append(contentsOf: "\r\n".utf8)
        for f in headers.fields where !HTTPHeaders.equalIgnoringCase(f.name, "Content-Length") {
            try HTTPRequest.appendField(f.name, f.value, to: &out)
        }
        switch framing {
        case .contentLength:
            try HTTPRequest.appendField("Content-Length", JSONNumber.decimal(Int64(body.count)), to: &out)
            out.append(contentsOf: "\r\n".utf8)
            out.append(contentsOf: body)
        case .tunnel:
            out.append(contentsOf: "\r\n".utf8)
        }
        return out
    }
}
