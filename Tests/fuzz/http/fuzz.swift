// libFuzzer target: HTTP response parser (fed whole and in pieces: both must agree), chunked
// decoder, request head parser, dial-back classification, server URL and request target.

enum Outcome: Equatable {
    case events(head: HTTPResponseHead?, body: [UInt8], ended: Bool, rest: [UInt8])
    case failed(HTTPError)
}

func runResponse(_ bytes: [UInt8], pieces: Int, head: Bool) -> Outcome {
    let limits = HTTPLimits(maxHeadBytes: 1024, maxHeaderCount: 16, maxBodyBytes: 2048)
    var p = HTTPResponseParser(limits: limits, requestWasHead: head)
    var h: HTTPResponseHead? = nil
    var body: [UInt8] = []
    var ended = false
    var i = 0
    let step = Swift.max(1, pieces)
    do throws(HTTPError) {
        while i < bytes.count {
            let j = Swift.min(bytes.count, i + step)
            p.feed(bytes[i..<j])
            i = j
            while let e = try p.next() {
                switch e {
                case .head(let x):
                    if h != nil { fatalError("two final heads") }
                    h = x
                case .body(let b):
                    if b.isEmpty { fatalError("empty body event") }
                    body += b
                case .end:
                    if ended { fatalError("two ends") }
                    ended = true
                }
                if body.count > limits.maxBodyBytes { fatalError("body over limit") }
            }
        }
        while let e = try p.finish() {
            if case .body(let b) = e { body += b }
            if case .end = e { ended = true }
        }
    } catch {
        return .failed(error)
    }
    return .events(head: h, body: body, ended: ended, rest: p.takeRemaining())
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let mode = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let head = mode & 0x80 != 0
    let whole = runResponse(bytes, pieces: bytes.count, head: head)
    let split = runResponse(bytes, pieces: Int(mode & 0x0F) + 1, head: head)
    // Error kinds may legitimately differ only for head size: both detect it, maybe at other
    // points, but the limit is the same; everything else must match exactly.
    if whole != split { fatalError("piecewise parse differs from whole parse") }

    if let (h, used) = try? HTTPRequestHead.parse(bytes, limits: HTTPLimits(maxHeadBytes: 1024, maxHeaderCount: 16)) {
        if used > bytes.count || used <= 0 { fatalError("bad consumed count") }
        _ = RevdialDialBackRequest(h)
        let t = HTTPRequestTarget(h.target)
        _ = t.queryValue("uuid")
    }
    let text = String(decoding: bytes, as: UTF8.self)
    if let u = try? HTTPServerURL.parse(text) {
        _ = u.hostHeader
        _ = u.join("/api/devices/auth")
        // A request to it must be writable (host/path validated by the parser).
        if (try? HTTPRequest(method: "GET", target: u.join("/info"), host: u.hostHeader).encode()) == nil {
            fatalError("parsed URL yields an unwritable request")
        }
    }
    return 0
}
