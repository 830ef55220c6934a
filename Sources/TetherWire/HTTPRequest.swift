/// An HTTP/1.1 request to write: start line, `Host`, the caller's headers in order, then
/// `Content-Length` (always for POST/PUT/PATCH, even for an empty body, as Go's client does and
/// the ShellHub API expects; otherwise only when there is a body) and the body.
public struct HTTPRequest {
    public var method: String
    /// Origin-form target, e.g. `/api/devices/auth` or `/info?agent_version=1.0.0`.
    public var target: String
    /// `Host` header value (`HTTPServerURL.hostHeader`).
    public var host: String
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(method: String, target: String, host: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.host = host
        self.headers = headers
        self.body = body
    }

    /// The request bytes, head and body in one buffer (one write, one TLS record when small).
    public func encode() throws(HTTPError) -> [UInt8] {
        guard HTTPSyntax.isToken(method.utf8) else { throw .invalidRequestField("method") }
        guard !target.utf8.isEmpty, target.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw .invalidRequestField("target")
        }
        var out: [UInt8] = []
        out.reserveCapacity(256 + body.count)
        out.append(contentsOf: method.utf8)
        out.append(0x20)
        out.append(contentsOf: target.utf8)
        out.append(contentsOf: " HTTP/1.1\r\n".utf8)
        try HTTPRequest.appendField("Host", host, to: &out)
        for f in headers.fields {
            // Framing is ours to decide; a caller's copy would duplicate or contradict it.
            if HTTPHeaders.equalIgnoringCase(f.name, "Content-Length")
                || HTTPHeaders.equalIgnoringCase(f.name, "Host")
            {
                continue
            }
            try HTTPRequest.appendField(f.name, f.value, to: &out)
        }
        if !body.isEmpty || HTTPRequest.methodAlwaysHasLength(method) {
            try HTTPRequest.appendField("Content-Length", JSONNumber.decimal(Int64(body.count)), to: &out)
        }
        out.append(contentsOf: "\r\n".utf8)
        out.append(contentsOf: body)
        return out
    }

    static func methodAlwaysHasLength(_ m: String) -> Bool {
        m.utf8.elementsEqual("POST".utf8) || m.utf8.elementsEqual("PUT".utf8)
            || m.utf8.elementsEqual("PATCH".utf8)
    }

    static func appendField(_ name: String, _ value: String, to out: inout [UInt8]) throws(HTTPError) {
        guard HTTPSyntax.isToken(name.utf8) else { throw .invalidRequestField(name) }
        guard value.utf8.allSatisfy(HTTPSyntax.isFieldValueByte) else { throw .invalidRequestField(name) }
        out.append(contentsOf: name.utf8)
        out.append(contentsOf: ": ".utf8)
        out.append(contentsOf: value.utf8)
        out.append(contentsOf: "\r\n".utf8)
    }
}
