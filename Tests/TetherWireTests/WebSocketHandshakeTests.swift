import Testing
@testable import TetherWire

@Suite struct WebSocketHandshakeTests {
    // The nonce of RFC 6455 section 4.1/4.2.2: "the sample nonce" as 16 bytes.
    let sampleNonce = Array("the sample nonce".utf8)

    func response(_ accept: String, extra: String = "", status: String = "101 Switching Protocols")
        -> [UInt8]
    {
        Array("HTTP/1.1 \(status)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\(extra)\r\n".utf8)
    }

    @Test func rfcAcceptExample() throws {
        let h = try WebSocketHandshake(host: "server.example.com", path: "/chat", keyBytes: sampleNonce)
        #expect(String(decoding: h.key, as: UTF8.self) == "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(String(decoding: h.expectedAccept, as: UTF8.self) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func requestHasTheGoClientHeaders() throws {
        let h = try WebSocketHandshake(
            host: "hub.example:8443", path: "/agent/connection", keyBytes: sampleNonce,
            extraHeaders: [WebSocketHeader(name: "Authorization", value: "Bearer abc")])
        let text = String(decoding: h.request, as: UTF8.self)
        #expect(text.hasPrefix("GET /agent/connection HTTP/1.1\r\nHost: hub.example:8443\r\n"))
        for line in ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "User-Agent: Go-http-client/1.1",
                     "Authorization: Bearer abc"] {
            #expect(text.contains("\r\n\(line)\r\n"), "\(line)")
        }
        #expect(text.hasSuffix("\r\n\r\n"))
        #expect(throws: WebSocketHandshakeError.invalidKeyLength) {
            _ = try WebSocketHandshake(host: "h", path: "/", keyBytes: [1, 2, 3])
        }
    }

    @Test func acceptsAValidResponseAndKeepsTheBytesAfterIt() throws {
        var h = try WebSocketHandshake(host: "h", path: "/", keyBytes: sampleNonce)
        let bytes = response("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") + [0x81, 0x02, 0x68, 0x69]
        #expect(try h.receive(bytes) == [0x81, 0x02, 0x68, 0x69])
    }

    @Test func acceptsTheResponseByteByByte() throws {
        var h = try WebSocketHandshake(host: "h", path: "/", keyBytes: sampleNonce)
        let bytes = response("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", extra: "Server: x\r\n")
        var result: [UInt8]? = nil
        for (i, b) in bytes.enumerated() {
            result = try h.receive([b])
            if i < bytes.count - 1 { #expect(result == nil) }
        }
        #expect(result == [])
    }

    @Test func tokensAreCaseInsensitiveLists() throws {
        var h = try WebSocketHandshake(host: "h", path: "/", keyBytes: sampleNonce)
        let bytes = Array("HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, UPGRADE\r\nsec-websocket-accept:s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n".utf8)
        #expect(try h.receive(bytes) == [])
    }

    @Test func reportsTheStatusOfARefusal() throws {
        var h = try WebSocketHandshake(host: "h", path: "/", keyBytes: sampleNonce)
        #expect(throws: WebSocketHandshakeError.unexpectedStatus(code: 401, location: nil)) {
            _ = try h.receive(Array("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".utf8))
        }
        var r = try WebSocketHandshake(host: "h", path: "/", keyBytes: sampleNonce)
        #expect(throws: WebSocketHandshakeError.unexpectedStatus(code: 308, location: "https://x/y")) {
            _ = try r.receive(Array("HTTP/1.1 308 Permanent Redirect\r\nLocation: https://x/y\r\n\r\n".utf8))
        }
    }

    @Test func rejectsBadResponses() throws {
        let cases: [([UInt8], WebSocketHandshakeError)] = [
            (response("AAAAAAAAAAAAAAAAAAAAAAAAAAA="), .acceptMismatch),
            (Array("HTTP/1.1 101 OK\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n".utf8), .missingUpgrade),
            (Array("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n".utf8), .missingConnection),
            (Array("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".utf8), .acceptMismatch),
            (response("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", extra: "Sec-WebSocket-Extensions: permessage-deflate\r\n"), .unrequestedExtension),
            (response("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", extra: "Sec-WebSocket-Protocol: binary\r\n"), .unrequestedSubprotocol),
            (Array("HTTP/1.1 1x1 OK\r\n\r\n".utf8), .malformedStatusLine),
            (Array("SSH-2.0-OpenSSH\r\n\r\n".utf8), .malformedStatusLine),
            (response("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", extra: "no colon here\r\n"), .malformedHeader),
        ]
        for (bytes, err) in cases {
            var h = try WebSocketHandshake(host: "h", path: "/", keyBytes: sampleNonce)
            #expect(throws: err) { _ = try h.receive(bytes) }
        }
    }

    @Test func boundsTheHead() throws {
        var h = try WebSocketHandshake(host: "h", path: "/", keyBytes: sampleNonce, maxHeadSize: 64)
        #expect(throws: WebSocketHandshakeError.headTooLarge) {
            for _ in 0..<100 { _ = try h.receive(Array("X-Filler: aaaaaaaa\r\n".utf8)) }
        }
    }
}

@Suite struct WebSocketRedirectTests {
    let here = HTTPServerURL(isTLS: true, host: "hub.example", port: 443)

    @Test func pathOnTheSameServerKeepsItsQuery() {
        let r = WebSocketRedirect.resolve("/v2/ssh/revdial?revdial.dialer=abc#frag", from: here)
        #expect(r == WebSocketRedirect(server: here, target: "/v2/ssh/revdial?revdial.dialer=abc"))
    }

    @Test func absoluteURLsOfEveryScheme() {
        #expect(WebSocketRedirect.resolve("wss://eu.hub.example/agent/connection", from: here)
                == WebSocketRedirect(server: HTTPServerURL(isTLS: true, host: "eu.hub.example", port: 443),
                                     target: "/agent/connection"))
        #expect(WebSocketRedirect.resolve("ws://10.0.0.2:8080?x=1", from: here)
                == WebSocketRedirect(server: HTTPServerURL(isTLS: false, host: "10.0.0.2", port: 8080),
                                     target: "/?x=1"))
        #expect(WebSocketRedirect.resolve("HTTPS://[::1]:8443/a", from: here)
                == WebSocketRedirect(server: HTTPServerURL(isTLS: true, host: "::1", port: 8443), target: "/a"))
        #expect(WebSocketRedirect.resolve("http://h", from: here)?.target == "/")
    }

    @Test func unusableLocationsAreRefused() {
        for bad in ["", "ftp://h/x", "//other.example/x", "relative/path", "wss:/no-authority",
                    "wss://user@h/x", "wss://h:0/x", "wss://h:99999/", "wss://h/a b", "mailto:x"] {
            #expect(WebSocketRedirect.resolve(bad, from: here) == nil, "\(bad)")
        }
    }
}
