import CMbedTLS

/// The pieces of ShellHub's public-key check (PROTOCOL.md 7.3): the legacy MD5 fingerprint of
/// the client's key, the `data` the hub signs, and the verification of the hub's signature with
/// the client's own RSA public key (PKCS#1 v1.5, SHA-256).
public enum PublicKeyProof {
    /// MD5 of the key's wire blob as lowercase hex pairs joined by ':' (47 characters).
    public static func md5Fingerprint(blob: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: 16)
        _ = blob.withUnsafeBufferPointer { b in
            digest.withUnsafeMutableBufferPointer { d in
                mbedtls_md5_ret(b.baseAddress, b.count, d.baseAddress)
            }
        }
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for (i, byte) in digest.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ":")) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The Go agent's compact JSON: {"Username":"<user>","Namespace":"<device name>"}.
    public static func signedData(user: String, deviceName: String) -> String {
        "{\"Username\":\"" + String(jsonEscaped(user)) + "\",\"Namespace\":\"" + String(jsonEscaped(deviceName)) + "\"}"
    }

    /// RSA modulus and exponent of an "ssh-rsa" wire blob; nil for other key types.
    public static func rsaComponents(blob: [UInt8]) -> (n: [UInt8], e: [UInt8])? {
        var r = WireReader(blob)
        guard let type = r.string(), type == Array("ssh-rsa".utf8),
              let e = r.string(), let n = r.string(), r.atEnd else { return nil }
        return (n: n, e: e)
    }

    /// True when `signature` is a valid RSASSA-PKCS1-v1_5/SHA-256 signature of `data` by the
    /// RSA key in `blob`.
    public static func verify(signature: [UInt8], data: [UInt8], blob: [UInt8]) -> Bool {
        guard let (n, e) = rsaComponents(blob: blob) else { return false }
        var hash = [UInt8](repeating: 0, count: 32)
        _ = data.withUnsafeBufferPointer { d in
            hash.withUnsafeMutableBufferPointer { h in
                mbedtls_sha256_ret(d.baseAddress, d.count, h.baseAddress, 0)
            }
        }
        var ctx = mbedtls_rsa_context()
        mbedtls_rsa_init(&ctx, MBEDTLS_RSA_PKCS_V15, 0)
        defer { mbedtls_rsa_free(&ctx) }
        let imported = n.withUnsafeBufferPointer { nb in
            e.withUnsafeBufferPointer { eb in
                mbedtls_rsa_import_raw(
                    &ctx, nb.baseAddress, nb.count, nil, 0, nil, 0, nil, 0, eb.baseAddress, eb.count)
            }
        }
        guard imported == 0, mbedtls_rsa_complete(&ctx) == 0,
              mbedtls_rsa_check_pubkey(&ctx) == 0,
              signature.count == mbedtls_rsa_get_len(&ctx) else { return false }
        let rc = hash.withUnsafeBufferPointer { h in
            signature.withUnsafeBufferPointer { s in
                mbedtls_rsa_pkcs1_verify(
                    &ctx, nil, nil, MBEDTLS_RSA_PUBLIC, MBEDTLS_MD_SHA256, 32,
                    h.baseAddress, s.baseAddress)
            }
        }
        return rc == 0
    }

    /// Decodes standard base64 (the hub's `signature` field); nil when malformed.
    public static func base64Decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        var olen = 0
        _ = input.withUnsafeBufferPointer { i in
            mbedtls_base64_decode(nil, 0, &olen, i.baseAddress, i.count)
        }
        var out = [UInt8](repeating: 0, count: olen)
        let rc = input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                mbedtls_base64_decode(o.baseAddress, o.count, &olen, i.baseAddress, i.count)
            }
        }
        guard rc == 0 else { return nil }
        return Array(out[0..<olen])
    }

    static func jsonEscaped(_ s: String) -> String {
        var out: [UInt8] = []
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [92, b]
            case 92: out += [92, 92]
            case 0..<0x20:
                out += Array("\\u00".utf8)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            default: out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Reads SSH wire strings (uint32 length + bytes).
struct WireReader {
    let bytes: [UInt8]
    var pos = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { pos == bytes.count }

    mutating func string() -> [UInt8]? {
        guard bytes.count - pos >= 4 else { return nil }
        var len32: UInt32 = 0
        for i in 0..<4 { len32 = (len32 << 8) | UInt32(bytes[pos + i]) }
        pos += 4
        let len = Int(clamping: len32)  // Int is 32 bits on armv7
        guard bytes.count - pos >= len else { return nil }
        defer { pos += len }
        return Array(bytes[pos..<(pos + len)])
    }
}
