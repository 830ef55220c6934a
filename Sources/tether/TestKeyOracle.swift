import CMbedTLS
import CShims
import TetherSSH

/// The hub's side of POST /api/auth/ssh for `ssh-serve`: one RSA key whose public half is the
/// only known fingerprint; `data` is signed with PKCS#1 v1.5 / SHA-256, like ShellHub's
/// `AuthPublicKey`. Answers are queued and delivered on the next loop turn (asynchronous).
final class TestKeyOracle: PublicKeyOracle {
    private var pk = mbedtls_pk_context()
    private var fingerprint = ""
    private var queue: [(PublicKeyOracleTicket, String?)] = []
    private var loaded = false
    /// Called when an answer is queued (ssh-serve schedules its delivery on the loop).
    var onQueued: (() -> Void)?

    init() { mbedtls_pk_init(&pk) }
    deinit { mbedtls_pk_free(&pk) }

    func load(privateKeyPath path: String) -> Bool {
        guard mbedtls_pk_parse_keyfile(&pk, path, nil) == 0,
              mbedtls_pk_get_type(&pk) == MBEDTLS_PK_RSA else { return false }
        // The SSH wire blob of the public half: string "ssh-rsa", mpint e, mpint n.
        let rsa = OpaquePointer(pk.pk_ctx!)
        var n = [UInt8](repeating: 0, count: 1024)
        var e = [UInt8](repeating: 0, count: 16)
        let size = mbedtls_rsa_get_len(UnsafeMutablePointer<mbedtls_rsa_context>(rsa))
        guard mbedtls_rsa_export_raw(
            UnsafeMutablePointer<mbedtls_rsa_context>(rsa), &n, size, nil, 0, nil, 0, nil, 0, &e, 16) == 0
        else { return false }
        let blob = wireString(Array("ssh-rsa".utf8)) + wireString(mpint(e)) + wireString(mpint(Array(n[0..<size])))
        fingerprint = PublicKeyProof.md5Fingerprint(blob: blob)
        loaded = true
        return true
    }

    func start(_ request: PublicKeyOracleRequest, ticket: PublicKeyOracleTicket) {
        if loaded && request.fingerprint == fingerprint {
            queue.append((ticket, sign(Array(request.data.utf8))))
        } else {
            queue.append((ticket, nil))
        }
        onQueued?()
    }

    func deliverQueued() {
        let items = queue
        queue.removeAll()
        for (ticket, sig) in items {
            ticket.resolve(signatureBase64: sig)
        }
    }

    private func sign(_ data: [UInt8]) -> String? {
        var hash = [UInt8](repeating: 0, count: 32)
        _ = data.withUnsafeBufferPointer { mbedtls_sha256_ret($0.baseAddress, $0.count, &hash, 0) }
        var sig = [UInt8](repeating: 0, count: 1024)
        var sigLen = 0
        // PKCS#1 v1.5 signing is deterministic: no RNG needed.
        guard mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, hash, 32, &sig, &sigLen, nil, nil) == 0 else {
            return nil
        }
        var olen = 0
        var out = [UInt8](repeating: 0, count: 2048)
        guard mbedtls_base64_encode(&out, out.count, &olen, sig, sigLen) == 0 else { return nil }
        return String(decoding: out[0..<olen], as: UTF8.self)
    }

    private func wireString(_ b: [UInt8]) -> [UInt8] {
        let n = b.count
        return [UInt8(n >> 24 & 255), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)] + b
    }

    private func mpint(_ raw: [UInt8]) -> [UInt8] {
        var b = Array(raw.drop { $0 == 0 })
        if let f = b.first, f & 0x80 != 0 { b.insert(0, at: 0) }
        return b
    }
}
