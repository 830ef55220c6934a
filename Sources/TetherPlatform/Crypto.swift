import CMbedTLS

/// Thin, checked wrappers over mbedTLS hashes used across the agent.
public enum Crypto {
    /// mbedTLS version string, e.g. "2.28.3".
    public static var mbedTLSVersion: String {
        var buf = [CChar](repeating: 0, count: 32)
        mbedtls_version_get_string(&buf)
        return String(decodingCString: buf)
    }

    /// SHA-256 of `data`.
    public static func sha256(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        _ = data.withUnsafeBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
                mbedtls_sha256_ret(inp.baseAddress, inp.count, o.baseAddress, 0)
            }
        }
        return out
    }
}

extension String {
    /// Decodes a NUL-terminated C char buffer as UTF-8 (Embedded-safe).
    public init(decodingCString buf: [CChar]) {
        var bytes: [UInt8] = []
        for c in buf {
            if c == 0 { break }
            bytes.append(UInt8(bitPattern: c))
        }
        self = String(decoding: bytes, as: UTF8.self)
    }
}
