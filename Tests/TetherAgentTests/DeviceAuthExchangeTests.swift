import Testing
import TetherWire
@testable import TetherAgent

@Suite struct DeviceAuthExchangeTests {
    let request = DeviceAuthRequest(
        info: DeviceInfo(id: "debian", prettyName: "Debian GNU/Linux 12", version: "0.10.0", arch: "arm64"),
        mac: "aa:bb:cc:dd:ee:ff", publicKey: "-----BEGIN RSA PUBLIC KEY-----\n", tenantID: "t")

    @Test func requestHasTheHeadersTheServerNeeds() throws {
        let server = try HTTPServerURL.parse("https://hub.example.com:8443/sh")
        let bytes = try DeviceAuthExchange(request: request).requestBytes(server: server, agentVersion: "0.10.0")
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("POST /sh/api/devices/auth HTTP/1.1\r\nHost: hub.example.com:8443\r\n"))
        #expect(text.utf8.count > 100)
        let body = request.encode()
        let head = String(decoding: bytes.prefix(bytes.count - body.count), as: UTF8.self)
        #expect(head.hasSuffix("Content-Length: \(body.count)\r\n\r\n"))
        let lines = head.split(separator: "\r\n").map(String.init)
        #expect(lines.contains("User-Agent: tether/0.10.0"))
        #expect(lines.contains("Content-Type: application/json"))
        #expect(!lines.contains { $0.hasPrefix("Accept-Encoding") })
        #expect(Array(bytes.suffix(body.count)) == body)
    }

    @Test func okGivesTokenInPieces() {
        var x = DeviceAuthExchange(request: request)
        let bytes = response("200 OK", ["Content-Type: application/json"],
            body: #"{"uid":"u1","token":"jwt.x.y","name":"board","namespace":"acme","status":"accepted","config":{}}"#)
        var verdict: DeviceAuthVerdict? = nil
        for b in bytes {
            #expect(verdict == nil)
            verdict = x.receive([b])
        }
        #expect(verdict == .authenticated(token: "jwt.x.y"))
        #expect(x.response?.name == "board")
        #expect(x.response?.status == "accepted")
        #expect(x.connectionClosed() == .authenticated(token: "jwt.x.y"))
    }

    @Test func unauthorizedMeansRemoved() {
        var x = DeviceAuthExchange(request: request)
        #expect(x.receive(response("401 Unauthorized")) == .deviceRemoved)
    }

    @Test func rateLimitHonoursRetryAfter() {
        var x = DeviceAuthExchange(request: request)
        #expect(x.receive(response("429 Too Many Requests", ["Retry-After: 30"])) == .retry(.rateLimited, retryAfter: .seconds(30)))
        var y = DeviceAuthExchange(request: request)
        #expect(y.receive(response("503 Busy", ["Retry-After: Wed, 21 Oct 2015 07:28:00 GMT"]))
            == .retry(.serverError(503), retryAfter: nil))
    }

    @Test func refusalsAndGarbage() {
        var a = DeviceAuthExchange(request: request)
        #expect(a.receive(response("404 Not Found", body: "{}")) == .retry(.refused(404), retryAfter: nil))
        var b = DeviceAuthExchange(request: request)
        #expect(b.receive(response("200 OK", body: "not json")) == .retry(.badResponse, retryAfter: nil))
        var c = DeviceAuthExchange(request: request)
        #expect(c.receive(Array("SSH-2.0-nope\r\n\r\n".utf8)) == .retry(.network, retryAfter: nil))
        var d = DeviceAuthExchange(request: request)
        #expect(d.receive(Array("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{".utf8)) == nil)
        #expect(d.connectionClosed() == .retry(.network, retryAfter: nil))
        var e = DeviceAuthExchange(request: request)
        #expect(e.networkFailed() == .retry(.network, retryAfter: nil))
    }

    @Test func closeDelimitedBody() {
        var x = DeviceAuthExchange(request: request)
        #expect(x.receive(Array("HTTP/1.1 200 OK\r\n\r\n{\"uid\":\"u\",\"token\":\"t\"}".utf8)) == nil)
        #expect(x.connectionClosed() == .authenticated(token: "t"))
    }
}

@Suite struct DeviceAPIRequestTests {
    let server = try! HTTPServerURL.parse("https://hub.example.com/sh")

    @Test func challengeIsAnAnonymousEmptyPost() throws {
        let text = String(decoding: try DeviceAPIRequest(.challenge).requestBytes(server: server, agentVersion: "1"),
                          as: UTF8.self)
        #expect(text.hasPrefix("POST /sh/api/devices/auth/challenge HTTP/1.1\r\n"))
        #expect(text.hasSuffix("Content-Length: 0\r\n\r\n"))
        #expect(!text.contains("Authorization"))
    }

    @Test func loginCodeAndStatusCarryTheBearer() throws {
        let code = String(decoding: try DeviceAPIRequest(.loginCode(token: "tok")).requestBytes(
            server: server, agentVersion: "1"), as: UTF8.self)
        #expect(code.hasPrefix("POST /sh/api/devices/auth/code HTTP/1.1\r\n"))
        #expect(code.contains("\r\nAuthorization: Bearer tok\r\n"))
        #expect(code.hasSuffix("Content-Length: 0\r\n\r\n"))
        let status = String(decoding: try DeviceAPIRequest(.authStatus(token: "tok")).requestBytes(
            server: server, agentVersion: "1"), as: UTF8.self)
        #expect(status.hasPrefix("GET /sh/api/devices/auth/status HTTP/1.1\r\n"))
    }

    func outcome(_ bytes: [UInt8]) -> ChallengeOutcome {
        var x = DeviceAPIRequest(.challenge)
        return ChallengeOutcome(x.receive(bytes) ?? x.connectionClosed())
    }

    @Test func challengeOutcomes() {
        #expect(outcome(response("200 OK", body: #"{"challenge":"K3VZ","expires_in":60}"#)) == .challenge("K3VZ"))
        // v0.27.0-rc.6 and older: no such route.
        #expect(outcome(response("404 Not Found", body: #"{"message":"Not Found"}"#)) == .notOffered(status: 404))
        #expect(outcome(response("405 Method Not Allowed")) == .notOffered(status: 405))
        // A server in trouble is retried like a device auth, never taken for an old one.
        #expect(outcome(response("503 Service Unavailable")) == .failed(.retry(.serverError(503), retryAfter: nil)))
        #expect(outcome(response("429 Too Many Requests")) == .failed(.retry(.rateLimited, retryAfter: nil)))
        #expect(outcome(response("200 OK", body: #"{"challenge":""}"#)) == .failed(.retry(.badResponse, retryAfter: nil)))
        #expect(outcome(response("200 OK", body: "not json")) == .failed(.retry(.badResponse, retryAfter: nil)))
        #expect(outcome(Array("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{".utf8)) == .failed(.retry(.network, retryAfter: nil)))
    }
}
