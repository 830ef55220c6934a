import Testing
@testable import TetherWire

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Feeds `input` in pieces of `step` bytes and collects every event (body pieces joined).
private func run(_ input: String, step: Int = Int.max, head: Bool = false, limits: HTTPLimits = HTTPLimits(),
                 eof: Bool = false) throws(HTTPError) -> (HTTPResponseHead?, [UInt8], Bool, [UInt8]) {
    var p = HTTPResponseParser(limits: limits, requestWasHead: head)
    var h: HTTPResponseHead? = nil
    var body: [UInt8] = []
    var ended = false
    let all = bytes(input)
    var i = 0
    func drain(_ p: inout HTTPResponseParser) throws(HTTPError) {
        while let e = try p.next() {
            switch e {
            case .head(let x): h = x
            case .body(let b): body += b
            case .end: ended = true
            }
        }
    }
    while i < all.count {
        let j = min(all.count, i + step)
        p.feed(all[i..<j])
        i = j
        try drain(&p)
    }
    if eof, let e = try p.finish() {
        if case .end = e { ended = true }
        if case .body(let b) = e { body += b; if case .end? = try p.finish() { ended = true } }
    }
    return (h, body, ended, p.takeRemaining())
}

@Suite struct HTTPRequestWriterTests {
    @Test func postWithBody() throws {
        var h = HTTPHeaders()
        h.add("User-Agent", "tether/1.0.0")
        h.add("Content-Type", "application/json")
        h.add("Content-Length", "999")  // ignored: framing is the writer's
        let r = HTTPRequest(method: "POST", target: "/api/devices/auth", host: "hub.example.com", headers: h, body: bytes("{}"))
        #expect(text(try r.encode()) == "POST /api/devices/auth HTTP/1.1\r\nHost: hub.example.com\r\nUser-Agent: tether/1.0.0\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
    }

    @Test func emptyPostHasZeroLength() throws {
        let r = HTTPRequest(method: "POST", target: "/api/devices/auth/code", host: "h:8080")
        #expect(text(try r.encode()) == "POST /api/devices/auth/code HTTP/1.1\r\nHost: h:8080\r\nContent-Length: 0\r\n\r\n")
        let g = HTTPRequest(method: "GET", target: "/info?agent_version=1.0.0", host: "h")
        #expect(text(try g.encode()) == "GET /info?agent_version=1.0.0 HTTP/1.1\r\nHost: h\r\n\r\n")
    }

    @Test func rejectsInjection() {
        var h = HTTPHeaders()
        h.add("X", "a\r\nEvil: 1")
        #expect(throws: HTTPError.invalidRequestField("X")) {
            try HTTPRequest(method: "GET", target: "/", host: "h", headers: h).encode()
        }
        #expect(throws: HTTPError.invalidRequestField("target")) {
            try HTTPRequest(method: "GET", target: "/a b", host: "h").encode()
        }
        #expect(throws: HTTPError.invalidRequestField("method")) {
            try HTTPRequest(method: "GE T", target: "/", host: "h").encode()
        }
        #expect(throws: HTTPError.invalidRequestField("Host")) {
            try HTTPRequest(method: "GET", target: "/", host: "h\n").encode()
        }
    }
}

@Suite struct HTTPResponseParserTests {
    static let auth = "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\ncontent-length: 13\r\nVary: Accept-Encoding\r\n\r\n{\"uid\":\"ab\"}\n"

    @Test func contentLength() throws {
        for step in [1, 2, 7, 1000] {
            let (h, body, ended, rest) = try run(Self.auth, step: step)
            #expect(h?.statusCode == 200)
            #expect(h?.reason == "OK")
            #expect(h?.headers["Content-Type"] == "application/json; charset=UTF-8")
            #expect(h?.headers["CONTENT-LENGTH"] == "13")
            #expect(text(body) == "{\"uid\":\"ab\"}\n")
            #expect(ended)
            #expect(rest.isEmpty)
        }
    }

    @Test func chunked() throws {
        let r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT"
        for step in [1, 3, 1000] {
            let (h, body, ended, rest) = try run(r, step: step)
            #expect(h?.statusCode == 200)
            #expect(text(body) == "hello, world")
            #expect(ended)
            #expect(text(rest) == "NEXT")
        }
    }

    @Test func chunkedErrors() {
        #expect(throws: HTTPError.invalidChunk) { try run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") }
        #expect(throws: HTTPError.invalidChunk) { try run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n") }
        #expect(throws: HTTPError.invalidChunk) { try run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n") }
        #expect(throws: HTTPError.bodyTooLarge(limit: 4)) {
            try run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", limits: HTTPLimits(maxBodyBytes: 4))
        }
        #expect(throws: HTTPError.truncatedMessage) {
            try run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", eof: true)
        }
    }

    @Test func noBodyCases() throws {
        let (h1, b1, e1, _) = try run("HTTP/1.1 204 No Content\r\n\r\n")
        #expect(h1?.statusCode == 204 && b1.isEmpty && e1)
        let (h2, b2, e2, _) = try run("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", head: true)
        #expect(h2?.statusCode == 200 && b2.isEmpty && e2)
        // 101: what follows is the upgraded protocol's.
        let (h3, _, e3, rest3) = try run("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\u{82}\u{0}")
        #expect(h3?.statusCode == 101 && e3)
        #expect(h3?.headers.hasToken("connection", "upgrade") == true)
        #expect(rest3 == [0xC2, 0x82, 0x00])  // U+0082 is two UTF-8 bytes
    }

    @Test func interimAndCloseDelimited() throws {
        let (h, body, ended, _) = try run("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 500 Internal Server Error\r\n\r\noops", eof: true)
        #expect(h?.statusCode == 500)
        #expect(h?.minorVersion == 0)
        #expect(text(body) == "oops")
        #expect(ended)
        let (h2, _, _, _) = try run("HTTP/1.1 429 \r\nRetry-After: 30\r\n\r\n")
        #expect(h2?.reason == "")
        #expect(h2?.headers["retry-after"] == "30")
        let (h3, _, _, _) = try run("HTTP/1.1 404\nContent-Length: 0\n\n")  // bare LF, no reason
        #expect(h3?.statusCode == 404)
    }

    @Test func malformed() {
        #expect(throws: HTTPError.invalidStatusLine) { try run("HTTP/1.1 2000 OK\r\n\r\n") }
        #expect(throws: HTTPError.invalidStatusLine) { try run("HTTP/1.1 20 OK\r\n\r\n") }
        #expect(throws: HTTPError.unsupportedVersion) { try run("HTTP/2.0 200 OK\r\n\r\n") }
        #expect(throws: HTTPError.invalidStatusLine) { try run("\r\n\r\n") }
        #expect(throws: HTTPError.invalidHeaderLine) { try run("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n") }
        #expect(throws: HTTPError.invalidHeaderLine) { try run("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n") }
        #expect(throws: HTTPError.invalidHeaderLine) { try run("HTTP/1.1 200 OK\r\nName : x\r\n\r\n") }
        #expect(throws: HTTPError.obsoleteLineFolding) { try run("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n") }
        #expect(throws: HTTPError.invalidContentLength) { try run("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n") }
        #expect(throws: HTTPError.invalidContentLength) { try run("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n") }
        #expect(throws: HTTPError.bodyTooLarge(limit: HTTPLimits.defaultMaxBodyBytes)) {
            try run("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n")
        }
        #expect(throws: HTTPError.truncatedMessage) { try run("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", eof: true) }
        #expect(throws: HTTPError.truncatedMessage) { try run("HTTP/1.1 200 OK\r\n", eof: true) }
    }

    @Test func headLimits() {
        let big = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 200) + "\r\n\r\n"
        #expect(throws: HTTPError.headTooLarge(limit: 100)) { try run(big, step: 10, limits: HTTPLimits(maxHeadBytes: 100)) }
        #expect(throws: HTTPError.headTooLarge(limit: 100)) { try run(big, limits: HTTPLimits(maxHeadBytes: 100)) }
        let many = "HTTP/1.1 200 OK\r\n" + String(repeating: "A: b\r\n", count: 5) + "\r\n"
        #expect(throws: HTTPError.tooManyHeaders(limit: 4)) { try run(many, limits: HTTPLimits(maxHeaderCount: 4)) }
        #expect(throws: Never.self) { try run(many, limits: HTTPLimits(maxHeaderCount: 5)) }
    }
}

@Suite struct HTTPRequestHeadTests {
    @Test func goStyleDialBack() throws {
        // PROTOCOL.md 6 / Appendix A: empty Host, then SSH bytes of the next layer.
        let raw = bytes("GET /ssh/0123abcd HTTP/1.1\r\nHost: \r\nUser-Agent: Go-http-client/1.1\r\n\r\nSSH-2.0-Go\r\n")
        let (h, used) = try #require(try HTTPRequestHead.parse(raw))
        #expect(h.method == "GET")
        #expect(h.target == "/ssh/0123abcd")
        #expect(h.minorVersion == 1)
        #expect(h.headers["host"] == "")
        #expect(h.headers["User-Agent"] == "Go-http-client/1.1")
        #expect(text(Array(raw[used...])) == "SSH-2.0-Go\r\n")
    }

    @Test func incrementalAndConnect() throws {
        let raw = bytes("CONNECT /http/proxy/10.0.0.5:8080 HTTP/1.1\r\nHost: \r\n\r\n")
        for cut in 0..<raw.count {
            #expect(try HTTPRequestHead.parse(Array(raw[..<cut])) == nil)
        }
        let (h, used) = try #require(try HTTPRequestHead.parse(raw))
        #expect(h.method == "CONNECT")
        #expect(h.target == "/http/proxy/10.0.0.5:8080")
        #expect(used == raw.count)
    }

    @Test func malformed() {
        #expect(throws: HTTPError.invalidRequestLine) { try HTTPRequestHead.parse(bytes("GET  /x HTTP/1.1\r\n\r\n")) }
        #expect(throws: HTTPError.invalidRequestLine) { try HTTPRequestHead.parse(bytes("GET /x\r\n\r\n")) }
        #expect(throws: HTTPError.unsupportedVersion) { try HTTPRequestHead.parse(bytes("GET /x HTTP/1.2\r\n\r\n")) }
        #expect(throws: HTTPError.headTooLarge(limit: 16)) {
            try HTTPRequestHead.parse(bytes("GET /xxxxxxxxxxxxxxxxxxxxxxxxx HTTP/1.1\r\n"), limits: HTTPLimits(maxHeadBytes: 16))
        }
    }
}

@Suite struct HTTPURLTests {
    @Test func serverURLs() throws {
        let a = try HTTPServerURL.parse("https://cloud.shellhub.io")
        #expect(a == HTTPServerURL(isTLS: true, host: "cloud.shellhub.io", port: 443))
        #expect(a.hostHeader == "cloud.shellhub.io")
        #expect(a.join("/api/devices/auth") == "/api/devices/auth")
        let b = try HTTPServerURL.parse("HTTP://10.0.0.1:8080/shellhub/")
        #expect(b == HTTPServerURL(isTLS: false, host: "10.0.0.1", port: 8080, pathPrefix: "/shellhub"))
        #expect(b.hostHeader == "10.0.0.1:8080")
        #expect(b.join("/ssh/revdial?x=1") == "/shellhub/ssh/revdial?x=1")
        #expect(b.join("info") == "/shellhub/info")
        let c = try HTTPServerURL.parse("http://[::1]:8080")
        #expect(c.host == "::1" && c.port == 8080 && c.isIPv6)
        #expect(c.hostHeader == "[::1]:8080")
        #expect(try HTTPServerURL.parse("https://[fe80::1]").hostHeader == "[fe80::1]")
        #expect(try HTTPServerURL.parse("http://h:").port == 80)
    }

    @Test func badServerURLs() {
        for bad in ["cloud.shellhub.io", "ftp://h", "https://", "https://u:p@h", "https://h:0", "https://h:65536",
                    "https://h:80x", "https://[::1", "https://[zz]", "https://h?x=1", "https://h/#f", "https://h h"] {
            #expect(throws: HTTPError.self, "\(bad)") { try HTTPServerURL.parse(bad) }
        }
    }

    @Test func requestTargets() {
        let t = HTTPRequestTarget("/ssh/revdial?revdial.dialer=9fe1&uuid=0c1e-22&x=a%20b+c&bad=%zz")
        #expect(t.path == "/ssh/revdial")
        #expect(t.queryValue("revdial.dialer") == "9fe1")
        #expect(t.queryValue("uuid") == "0c1e-22")
        #expect(t.queryValue("x") == "a b c")
        #expect(t.queryValue("bad") == nil)
        #expect(t.queryValue("nope") == nil)
        #expect(HTTPRequestTarget("/ssh/abc").query == "")
    }
}

@Suite struct HTTPResponseWriterTests {
    @Test func dialBackAnswers() throws {
        #expect(text(try HTTPResponse(statusCode: 200, reason: "OK").encode())
            == "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(text(try HTTPResponse(statusCode: 200, reason: "OK", framing: .tunnel).encode())
            == "HTTP/1.1 200 OK\r\n\r\n")
        var h = HTTPHeaders()
        h.add("Content-Type", "text/plain; charset=utf-8")
        let failed = try HTTPResponse(statusCode: 500, reason: "Internal Server Error", headers: h,
                                      body: bytes("dial tcp 10.0.0.5:22: connection refused\n")).encode()
        // Our own parser reads it back.
        var p = HTTPResponseParser()
        p.feed(failed)
        #expect(try p.next() == .head(HTTPResponseHead(statusCode: 500, reason: "Internal Server Error", headers: HTTPHeaders([
            HTTPHeader("Content-Type", "text/plain; charset=utf-8"), HTTPHeader("Content-Length", "41")]))))
        #expect(try p.next() == .body(bytes("dial tcp 10.0.0.5:22: connection refused\n")))
        #expect(try p.next() == .end)
        #expect(throws: HTTPError.invalidRequestField("reason")) { try HTTPResponse(statusCode: 200, reason: "O\nK").encode() }
    }

    @Test func queryEscaping() {
        #expect(HTTPRequestTarget.escapeQueryValue("v1.0.0-rc.1_x~") == "v1.0.0-rc.1_x~")
        #expect(HTTPRequestTarget.escapeQueryValue("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9")
        let t = HTTPRequestTarget("/info?agent_version=" + HTTPRequestTarget.escapeQueryValue("a b&c"))
        #expect(t.queryValue("agent_version") == "a b&c")
    }
}
