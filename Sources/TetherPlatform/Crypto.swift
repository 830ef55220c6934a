import CMbedTLS
import CShims
import TetherWire

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

extension Crypto {
    /// MD5 of `data` (legacy SSH fingerprints only).
    public static func md5(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        _ = data.withUnsafeBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
                mbedtls_md5_ret(inp.baseAddress, inp.count, o.baseAddress)
            }
        }
        return out
    }

    /// OpenSSH legacy fingerprint of a wire-format public key blob: MD5, lowercase hex pairs
    /// joined by ':' (47 characters), as PROTOCOL.md 7.3 sends it to /api/auth/ssh.
    public static func md5Fingerprint(sshKeyBlob blob: [UInt8]) -> String {
        Hex.encode(md5(blob), separator: UInt8(ascii: ":"))
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256: whether `signature` over `message` verifies under the
    /// public key (big-endian `modulus`, `exponent`, e.g. from an SSH "ssh-rsa" blob).
    public static func verifyRSASHA256(modulus: [UInt8], exponent: [UInt8],
                                       message: [UInt8], signature: [UInt8]) -> Bool {
        let rsa = UnsafeMutablePointer<mbedtls_rsa_context>.allocate(capacity: 1)
        mbedtls_rsa_init(rsa, MBEDTLS_RSA_PKCS_V15, 0)
        defer {
            mbedtls_rsa_free(rsa)
            rsa.deallocate()
        }
        guard mbedtls_rsa_import_raw(rsa, modulus, modulus.count, nil, 0, nil, 0, nil, 0,
                                     exponent, exponent.count) == 0,
              mbedtls_rsa_complete(rsa) == 0,
              mbedtls_rsa_check_pubkey(rsa) == 0,
              signature.count == mbedtls_rsa_get_len(rsa) else { return false }
        let digest = sha256(message)
        return mbedtls_rsa_pkcs1_verify(rsa, nil, nil, MBEDTLS_RSA_PUBLIC, MBEDTLS_MD_SHA256,
                                        32, digest, signature) == 0
    }
}

/// CTR-DRBG seeded from getrandom(2), for key generation.
final class RandomGenerator {
    let context: UnsafeMutablePointer<mbedtls_ctr_drbg_context>

    init?(personalization: String) {
        context = .allocate(capacity: 1)
        mbedtls_ctr_drbg_init(context)
        let p = Array(personalization.utf8)
        if mbedtls_ctr_drbg_seed(context, tether_tls_entropy, nil, p, p.count) != 0 {
            mbedtls_ctr_drbg_free(context)
            context.deallocate()
            return nil
        }
    }

    deinit {
        mbedtls_ctr_drbg_free(context)
        context.deallocate()
    }
}
