import Testing
@testable import TetherWire

private func b(_ s: String) -> [UInt8] { Array(s.utf8) }
private func text(_ x: [UInt8]) -> String { String(decoding: x, as: UTF8.self) }

private func drain(_ r: inout RevdialControlReader) throws(RevdialError) -> [RevdialControlMessage] {
    var out: [RevdialControlMessage] = []
    while let m = try r.next() { out.append(m) }
    return out
}

@Suite struct RevdialControlTests {
    static let path = "/ssh/revdial?revdial.dialer=9f00e1&uuid=0c1e-4a"

    @Test func encodeLikeGo() {
        let ka = RevdialControlMessage.keepAlive.encode()
        #expect(text(ka) == "{\"command\":\"keep-alive\"}\n")
        #expect(ka.count == 25)  // PROTOCOL.md 5.3
        // Go's encoder escapes the query's '&' as \u0026; so does ours, and the reader decodes it.
        let ready = RevdialControlMessage.connReady(connPath: Self.path).encode()
        #expect(text(ready)
            == #"{"command":"conn-ready","connPath":"/ssh/revdial?revdial.dialer=9f00e1\u0026uuid=0c1e-4a"}"# + "\n")
        var r = RevdialControlReader()
        r.feed(ready)
        #expect(try! r.next() == .connReady(connPath: Self.path))
        #expect(text(RevdialControlMessage.pickupFailed(connPath: "/p", error: "dial: <refused> & x").encode())
            == #"{"command":"pickup-failed","connPath":"/p","err":"dial: \u003crefused\u003e \u0026 x"}"# + "\n")
        #expect(text(RevdialControlMessage.pickupFailed(connPath: "/p", error: "").encode())
            == "{\"command\":\"pickup-failed\",\"connPath\":\"/p\"}\n")
    }

    @Test func streamOfLines() throws {
        let wire = b("{\"command\":\"keep-alive\"}\n{\"command\":\"conn-ready\",\"connPath\":\"\(Self.path)\"}\n\n{\"command\":\"future\",\"x\":1}\n{\"command\":\"keep-alive\"}\n")
        // A line may span messages; a message may hold several lines.
        for step in [1, 5, 30, wire.count] {
            var r = RevdialControlReader()
            var got: [RevdialControlMessage] = []
            var i = 0
            while i < wire.count {
                r.feed(wire[i..<min(wire.count, i + step)])
                i += step
                got += try drain(&r)
            }
            #expect(got == [.keepAlive, .connReady(connPath: Self.path), .keepAlive])
        }
        // Round trip of our own encoding.
        var r = RevdialControlReader()
        r.feed(RevdialControlMessage.pickupFailed(connPath: "/p", error: "e").encode())
        #expect(try drain(&r) == [.pickupFailed(connPath: "/p", error: "e")])
    }

    @Test func errors() {
        var r = RevdialControlReader(maxLineBytes: 16)
        r.feed([UInt8](repeating: 0x61, count: 16))
        #expect(throws: RevdialError.lineTooLong(limit: 16)) { try r.next() }
        var s = RevdialControlReader()
        s.feed(b("not json\n"))
        #expect(throws: RevdialError.invalidMessage(.json(.unexpectedByte(UInt8(ascii: "o"), at: 1)))) { try s.next() }
        var t = RevdialControlReader()
        t.feed(b("{\"command\":1}\n"))
        #expect(throws: RevdialError.invalidMessage(.wrongType("command"))) { try t.next() }
    }

    @Test func dialBackRequests() throws {
        func classify(_ raw: String) throws -> RevdialDialBackRequest? {
            let (h, _) = try #require(try HTTPRequestHead.parse(b(raw)))
            return RevdialDialBackRequest(h)
        }
        #expect(try classify("GET /ssh/abc123 HTTP/1.1\r\nHost: \r\nUser-Agent: Go-http-client/1.1\r\n\r\n") == .sshOpen(sessionID: "abc123"))
        #expect(try classify("GET /ssh/close/abc123 HTTP/1.1\r\nHost: \r\n\r\n") == .sshClose(sessionID: "abc123"))
        #expect(try classify("CONNECT /http/proxy/10.0.0.5:8080 HTTP/1.1\r\nHost: \r\n\r\n") == .proxy(host: "10.0.0.5", port: 8080))
        #expect(try classify("CONNECT /http/proxy/[::1]:22 HTTP/1.1\r\nHost: \r\n\r\n") == .proxy(host: "::1", port: 22))
        #expect(try classify("CONNECT /http/proxy/h:0 HTTP/1.1\r\n\r\n") == nil)
        #expect(try classify("DELETE /ssh/close/abc HTTP/1.1\r\n\r\n") == nil)
        #expect(try classify("GET /ssh/ HTTP/1.1\r\n\r\n") == nil)
        #expect(try classify("GET /healthcheck HTTP/1.1\r\n\r\n") == nil)
    }
}
