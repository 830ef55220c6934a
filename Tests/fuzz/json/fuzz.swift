// libFuzzer target: JSON reader (round trip through the writer), ShellHub API body parsers and
// the revdial control line reader. Every input must end in a value or a typed error.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // 1. Reader; whatever it accepts must survive writer → reader unchanged.
    if let v = try? JSONReader.parse(bytes, limits: JSONLimits(maxBytes: 8192, maxDepth: 24, maxStringBytes: 2048)) {
        let again = JSONWriter.encode(v)
        guard let w = try? JSONReader.parse(again) else { fatalError("writer output unreadable") }
        guard w == v else { fatalError("round trip changed the value") }
        guard JSONWriter.encode(w) == again else { fatalError("writer not deterministic") }
    }
    // 2. API bodies.
    _ = try? DeviceAuthResponse.parse(bytes)
    _ = try? ServerInfo.parse(bytes)
    _ = try? SSHAuthResponse.parse(bytes)
    if let h = try? StreamHeader.parse(bytes) {
        _ = h.portNumber
        guard (try? StreamHeader.parse(h.encode())) == h else { fatalError("stream header round trip") }
    }
    // 3. Revdial control stream, fed in two pieces split by the first byte.
    let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    var r = RevdialControlReader(maxLineBytes: 512)
    r.feed(bytes[..<cut])
    var n = 0
    while (try? r.next()) != nil { n += 1; if n > size { fatalError("reader loops") } }
    r.feed(bytes[cut...])
    while (try? r.next()) != nil { n += 1; if n > size { fatalError("reader loops") } }
    return 0
}
