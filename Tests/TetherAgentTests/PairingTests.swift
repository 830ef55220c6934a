import Testing
import TetherWire
@testable import TetherAgent

@Suite struct PairingWireTests {
    @Test func requestBodyIsCompactGoJSON() {
        let r = PairingRequest(
            info: DeviceInfo(id: "debian", prettyName: "Debian GNU/Linux 12", version: "0.10.0", arch: "arm64"),
            mac: "aa:bb:cc:dd:ee:ff", publicKey: "PEM\n")
        let text = String(decoding: r.encode(), as: UTF8.self)
        #expect(text == #"{"identity":{"mac":"aa:bb:cc:dd:ee:ff"},"info":{"id":"debian","pretty_name":"Debian GNU/Linux 12","version":"0.10.0","arch":"arm64","platform":"native"},"public_key":"PEM\n"}"#)
        var named = r
        named.hostname = "gw-7"
        named.code = "WXYZ2K7Q"
        let t2 = String(decoding: named.encode(), as: UTF8.self)
        #expect(t2.hasPrefix(#"{"hostname":"gw-7","identity""#))
        #expect(t2.hasSuffix(#","code":"WXYZ2K7Q"}"#))
    }

    @Test func answersParse() throws {
        let pending = try PairingAnswer.parse(Array(#"{"code":"WXYZ2K7Q","expires_in_seconds":600,"status":"pending"}"#.utf8))
        #expect(pending == PairingAnswer(status: .pending, code: "WXYZ2K7Q", expiresInSeconds: 600))
        let ok = try PairingAnswer.parse(Array(#"{"status":"accepted","tenant_id":"00000000-0000-4000-0000-000000000000","uid":"x"}"#.utf8))
        #expect(ok.status == .accepted(tenant: "00000000-0000-4000-0000-000000000000"))
        #expect(try PairingAnswer.parse(Array(#"{"status":"rejected"}"#.utf8)).status == .rejected)
        #expect(throws: ShellHubAPIError.missingField("tenant_id")) { try PairingAnswer.parse(Array(#"{"status":"accepted"}"#.utf8)) }
        #expect(throws: ShellHubAPIError.invalidValue("status")) { try PairingAnswer.parse(Array(#"{"status":"maybe"}"#.utf8)) }
        #expect(throws: ShellHubAPIError.invalidValue("expires_in_seconds")) {
            try PairingAnswer.parse(Array(#"{"status":"pending","code":"A","expires_in_seconds":-1}"#.utf8))
        }
        #expect(PairingAnswer.display("WXYZ2K7Q") == "WXYZ-2K7Q")
        #expect(PairingAnswer.display("ABC") == "ABC")
    }

    @Test func exchangeRequestsAndOutcomes() throws {
        let server = try HTTPServerURL.parse("https://hub.example.com/sh")
        let get = String(decoding: try PairingExchange(.status(code: "WXYZ2K7Q")).requestBytes(server: server, agentVersion: "1"), as: UTF8.self)
        #expect(get.hasPrefix("GET /sh/api/devices/pairing/WXYZ2K7Q/status HTTP/1.1\r\n"))
        #expect(throws: HTTPError.self) { try PairingExchange(.status(code: "../x")).requestBytes(server: server, agentVersion: "1") }
        let body = PairingRequest(info: DeviceInfo(id: "d", prettyName: "D", version: "1", arch: "arm64"), mac: "m", publicKey: "k")
        let post = String(decoding: try PairingExchange(.create(body)).requestBytes(server: server, agentVersion: "1"), as: UTF8.self)
        #expect(post.hasPrefix("POST /sh/api/devices/pairing HTTP/1.1\r\n"))
        #expect(post.contains("Content-Type: application/json\r\n"))

        var x = PairingExchange(.status(code: "A"))
        #expect(x.receive(response("200 OK", body: #"{"status":"pending"}"#)) == .answer(PairingAnswer(status: .pending)))
        var gone = PairingExchange(.status(code: "A"))
        #expect(gone.receive(response("404 Not Found")) == .unknownCode)
        var busy = PairingExchange(.status(code: "A"))
        #expect(busy.receive(response("429 Too Many Requests", ["Retry-After: 7"])) == .retry(.rateLimited, retryAfter: 7000))
        var junk = PairingExchange(.status(code: "A"))
        #expect(junk.receive(response("200 OK", body: "<html>")) == .retry(.badResponse, retryAfter: nil))
        var cut = PairingExchange(.status(code: "A"))
        #expect(cut.receive(Array("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{".utf8)) == nil)
        #expect(cut.connectionClosed() == .retry(.network, retryAfter: nil))
    }
}

@Suite struct PairingFlowTests {
    var rng = SeededRandom(seed: 7)

    @Test mutating func codeShownPolledEveryThreeSecondsUntilAccepted() {
        var f = PairingFlow()
        #expect(f.start(now: .s(0)) == .request)
        let a = f.requestFinished(.answer(PairingAnswer(status: .pending, code: "WXYZ2K7Q", expiresInSeconds: 600)),
                                  now: .s(1), using: &rng)
        #expect(a == .show(code: "WXYZ2K7Q", expiresInSeconds: 600))
        #expect(f.nextDeadline == .s(4))
        #expect(f.timerFired(now: .s(3), using: &rng) == nil)  // early wake-up: nothing
        #expect(f.timerFired(now: .s(4), using: &rng) == .poll(code: "WXYZ2K7Q"))
        #expect(f.nextDeadline == nil)  // one poll in flight, no timer
        #expect(f.pollFinished(.answer(PairingAnswer(status: .pending)), now: .s(5), using: &rng) == nil)
        #expect(f.nextDeadline == .s(8))
        #expect(f.timerFired(now: .s(8), using: &rng) == .poll(code: "WXYZ2K7Q"))
        let done = f.pollFinished(.answer(PairingAnswer(status: .accepted(tenant: "T"))), now: .s(9), using: &rng)
        #expect(done == .paired(tenant: "T"))
        #expect(f.phase == .paired)
        #expect(f.nextDeadline == nil)
    }

    @Test mutating func preauthorisedCodeIsAcceptedAtOnce() {
        var f = PairingFlow()
        _ = f.start(now: .s(0))
        #expect(f.requestFinished(.answer(PairingAnswer(status: .accepted(tenant: "T"))), now: .s(0), using: &rng)
                == .paired(tenant: "T"))
    }

    @Test mutating func expiredCodePausesBeforeTheNextOne() {
        var f = PairingFlow(pause: .seconds(1800))
        _ = f.start(now: .s(0))
        _ = f.requestFinished(.answer(PairingAnswer(status: .pending, code: "C", expiresInSeconds: 10)), now: .s(0), using: &rng)
        var t: Int64 = 0
        var polls = 0
        var ended: PairingFlow.Action? = nil
        while ended == nil, t < 100 {
            guard let d = f.nextDeadline else { break }
            t = d.milliseconds / 1000
            switch f.timerFired(now: d, using: &rng) {
            case .poll?:
                polls += 1
                if let a = f.pollFinished(.answer(PairingAnswer(status: .pending)), now: d, using: &rng) { ended = a }
            case let other?: ended = other
            case nil: break
            }
        }
        #expect(ended == .codeEnded(.expired))
        #expect(polls == 3)  // at 3, 6 and 9 s; the code ends at 10 s
        let next = f.nextDeadline!.milliseconds / 1000
        #expect(next >= 10 + 1440 && next <= 10 + 2160)  // 30 min ± 20 %
        #expect(f.code == nil)
        #expect(f.timerFired(now: f.nextDeadline!, using: &rng) == .request)
    }

    @Test mutating func rejectedOrUnknownCodeEndsIt() {
        var f = PairingFlow()
        _ = f.start(now: .s(0))
        _ = f.requestFinished(.answer(PairingAnswer(status: .pending, code: "C", expiresInSeconds: 600)), now: .s(0), using: &rng)
        _ = f.timerFired(now: .s(3), using: &rng)
        #expect(f.pollFinished(.answer(PairingAnswer(status: .rejected)), now: .s(3), using: &rng) == .codeEnded(.rejected))
        var g = PairingFlow()
        _ = g.start(now: .s(0))
        _ = g.requestFinished(.answer(PairingAnswer(status: .pending, code: "C", expiresInSeconds: 600)), now: .s(0), using: &rng)
        _ = g.timerFired(now: .s(3), using: &rng)
        #expect(g.pollFinished(.unknownCode, now: .s(3), using: &rng) == .codeEnded(.expired))
    }

    @Test mutating func failuresBackOffAndKeepTheCode() {
        var f = PairingFlow()
        _ = f.start(now: .s(0))
        #expect(f.requestFinished(.retry(.network, retryAfter: nil), now: .s(0), using: &rng) == nil)
        #expect(f.lastCause == .network)
        let w = f.nextDeadline!
        #expect(w >= .s(3))  // never faster than the poll interval
        #expect(f.timerFired(now: w, using: &rng) == .request)
        _ = f.requestFinished(.answer(PairingAnswer(status: .pending, code: "C", expiresInSeconds: 600)), now: w, using: &rng)
        let p = f.nextDeadline!
        #expect(f.timerFired(now: p, using: &rng) == .poll(code: "C"))
        #expect(f.pollFinished(.retry(.rateLimited, retryAfter: 20_000), now: p, using: &rng) == nil)
        #expect(f.nextDeadline! >= p + 20_000)  // Retry-After is a floor
        #expect(f.timerFired(now: f.nextDeadline!, using: &rng) == .poll(code: "C"))  // same code
        #expect(f.lastCause == .rateLimited)
    }

    @Test mutating func aCodeThatCannotGoInAURLIsABadAnswer() {
        var f = PairingFlow()
        _ = f.start(now: .s(0))
        #expect(f.requestFinished(.answer(PairingAnswer(status: .pending, code: "../../x")), now: .s(0), using: &rng) == nil)
        #expect(f.lastCause == .badResponse)
        #expect(f.code == nil)
    }

    @Test mutating func outcomesOutOfPhaseAreIgnored() {
        var f = PairingFlow()
        #expect(f.pollFinished(.answer(PairingAnswer(status: .accepted(tenant: "T"))), now: .s(0), using: &rng) == nil)
        _ = f.start(now: .s(0))
        #expect(f.pollFinished(.unknownCode, now: .s(0), using: &rng) == nil)
        #expect(f.phase == .requesting)
    }
}
