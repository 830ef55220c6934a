// libFuzzer target for the WebSocket codec: frame decoder (message and stream mode), client
// state machine and handshake response parser. Compiled together with the TetherWire
// sources it needs (see build.sh), so internal invariants can be checked directly.
//
// Input layout: byte 0 selects what to fuzz and how to split the rest into reads.
//   bit 0: 0 = frames, 1 = handshake response
//   bit 1: stream mode (frames only)
//   bits 2-4: read size 1, 2, 3, 7, 16, 64, 512 or all at once
// Every input must end in a value or a typed error; a trap or an ASan report is a finding.

/// Deterministic mask keys: the fuzzer needs reproducible runs.
struct FuzzMasks: WebSocketMaskSource {
    var state: UInt32 = 0x1234_5678
    mutating func nextMaskKey() -> UInt32 {
        state = state &* 1_664_525 &+ 1_013_904_223
        return state
    }
}

let fuzzLimits = WebSocketLimits(
    maxFrameSize: 4096, maxMessageSize: 8192, maxOutgoingFrameSize: 1000, maxHandshakeHeadSize: 1024)
let fuzzChunks = [1, 2, 3, 7, 16, 64, 512, Int.max]

func fuzzCheck(_ condition: Bool, _ what: StaticString) {
    if !condition { fatalError("invariant broken: \(what)") }
}

func fuzzFrames(_ bytes: [UInt8], stream: Bool, chunk: Int) {
    var client = WebSocketClient(mode: stream ? .stream : .message, limits: fuzzLimits,
                                 maskSource: FuzzMasks())
    var i = 0
    var failed: WebSocketError? = nil
    var closed = false
    var delivered = 0
    while i < bytes.count {
        let end = bytes.count - i > chunk ? i + chunk : bytes.count
        client.receive(bytes[i..<end])
        i = end
        while true {
            let event: WebSocketEvent?
            do throws(WebSocketError) {
                event = try client.nextEvent()
            } catch {
                if let f = failed { fuzzCheck(f == error, "error changed") }
                failed = error
                fuzzCheck(!error.rule.isEmpty, "empty rule")
                break
            }
            guard let event else { break }
            fuzzCheck(failed == nil && !closed, "event after failure or close")
            switch event {
            case .text(let m):
                fuzzCheck(!stream, "text in stream mode")
                fuzzCheck(m.count <= fuzzLimits.maxMessageSize, "message over limit")
                fuzzCheck(String(validating: m, as: UTF8.self) != nil, "invalid UTF-8 delivered")
                client.sendText(m)
            case .binary(let m):
                fuzzCheck(!stream, "binary message in stream mode")
                fuzzCheck(m.count <= fuzzLimits.maxMessageSize, "message over limit")
                client.sendBinary(m)
            case .data(let d):
                fuzzCheck(stream, "data in message mode")
                fuzzCheck(!d.isEmpty, "empty data chunk")
                delivered += d.count
            case .ping(let p), .pong(let p):
                fuzzCheck(p.count <= 125, "control payload over 125")
            case .close(let code, let reason):
                if let code { fuzzCheck(WebSocketCloseCode.isValidOnWire(code), "bad close code") }
                fuzzCheck(String(validating: reason, as: UTF8.self) != nil, "bad close reason")
                closed = true
            }
        }
        if failed != nil { break }
    }
    fuzzCheck(delivered <= bytes.count, "more data out than in")
    // Whatever the client queued must be well-formed masked frames.
    let out = client.takeOutbound()
    var p = 0
    while p < out.count {
        fuzzCheck(p + 6 <= out.count && out[p + 1] & 0x80 != 0, "outbound frame not masked")
        var len = Int(out[p + 1] & 0x7F)
        var h = 2
        if len == 126 {
            len = Int(out[p + 2]) << 8 | Int(out[p + 3]); h = 4
        } else if len == 127 {
            len = 0
            for k in 2..<10 { len = len << 8 | Int(out[p + k]) }
            h = 10
        }
        p += h + 4 + len
    }
    fuzzCheck(p == out.count, "outbound frames do not add up")
}

func fuzzHandshake(_ bytes: [UInt8], chunk: Int) {
    let key: [UInt8] = Array("the sample nonce".utf8)
    guard var hs = try? WebSocketHandshake(host: "fuzz", path: "/", keyBytes: key,
                                           maxHeadSize: fuzzLimits.maxHandshakeHeadSize)
    else { fatalError("handshake init") }
    var i = 0
    while i < bytes.count {
        let end = bytes.count - i > chunk ? i + chunk : bytes.count
        do throws(WebSocketHandshakeError) {
            if let leftover = try hs.receive(bytes[i..<end]) {
                fuzzCheck(leftover.count <= bytes.count, "leftover larger than input")
                return
            }
        } catch {
            fuzzCheck(!error.rule.isEmpty, "empty rule")
            return
        }
        i = end
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebSocket(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    if size == 0 { return 0 }
    let selector = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let chunk = fuzzChunks[Int(selector >> 2) & 7]
    if selector & 1 == 0 {
        fuzzFrames(bytes, stream: selector & 2 != 0, chunk: chunk)
    } else {
        fuzzHandshake(bytes, chunk: chunk)
    }
    // The validator must agree with the standard library on arbitrary bytes.
    var v = UTF8Validator()
    let ours = v.feed(bytes) && v.isComplete
    fuzzCheck(ours == (String(validating: bytes, as: UTF8.self) != nil), "UTF-8 disagreement")
    return 0
}
