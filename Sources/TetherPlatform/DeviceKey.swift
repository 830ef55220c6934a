import CMbedTLS
import CShims
import TetherWire

/// Device key failures.
public enum DeviceKeyError: Error, Equatable {
    case file(FileError)
    /// mbedTLS could not parse the file as a private key (code).
    case parseFailed(path: String, code: Int32)
    /// The key parsed but is not RSA (the protocol and the Go agent need RSA).
    case notRSA(path: String)
    case generateFailed(code: Int32)
    case encodeFailed(code: Int32)

    public var message: String {
        switch self {
        case .file(let f): return "key: " + f.message
        case .parseFailed(let p, let c): return "key " + p + ": " + TLSError.describe(c)
        case .notRSA(let p): return "key " + p + ": not an RSA key"
        case .generateFailed(let c): return "key generation: " + TLSError.describe(c)
        case .encodeFailed(let c): return "key encoding: " + TLSError.describe(c)
        }
    }
}

/// The device's RSA key: its identity (the `public_key` string hashed into the device UID) and
/// the SSH host key. Stored as PKCS#1 PEM ("RSA PRIVATE KEY"), the format the Go agent writes
/// and reads, so a board can take over an installed Go agent's identity by reusing its file.
public final class DeviceKey {
    public static let bits: UInt32 = 2048
    public static let exponent: Int32 = 65537
    /// Mode of the key file and of a parent directory we create.
    public static let fileMode: UInt32 = 0o600
    public static let directoryMode: UInt32 = 0o700
    static let maxFileBytes = 16_384
    /// A PKCS#1 PEM of an RSA key up to 4096 bits fits (about 3.2 KB at 4096).
    static let maxPEMBytes = 4096

    let pk: UnsafeMutablePointer<mbedtls_pk_context>

    private init() {
        pk = .allocate(capacity: 1)
        mbedtls_pk_init(pk)
    }

    deinit {
        mbedtls_pk_free(pk)
        pk.deallocate()
    }

    /// Loads the key at `path`, or generates, saves and returns a new one when the file does
    /// not exist. `created` says which happened (worth a log line: a new identity).
    public static func loadOrCreate(path: String) throws(DeviceKeyError) -> (key: DeviceKey, created: Bool) {
        if Files.exists(path) { return (try load(path: path), false) }
        let key = try generate()
        try key.save(to: path)
        return (key, true)
    }

    /// Parses a PEM (PKCS#1 or PKCS#8, unencrypted) or DER RSA private key file.
    public static func load(path: String) throws(DeviceKeyError) -> DeviceKey {
        var bytes: [UInt8]
        do { bytes = try Files.read(path, limit: maxFileBytes) } catch { throw .file(error) }
        bytes.append(0)  // mbedtls_pk_parse_key wants PEM NUL-terminated, length included
        defer { for i in bytes.indices { bytes[i] = 0 } }
        let key = DeviceKey()
        let rc = mbedtls_pk_parse_key(key.pk, bytes, bytes.count, nil, 0)
        if rc != 0 { throw .parseFailed(path: path, code: rc) }
        if mbedtls_pk_get_type(key.pk) != MBEDTLS_PK_RSA { throw .notRSA(path: path) }
        return key
    }

    /// Generates a new RSA-2048 key (e = 65537) from a CTR-DRBG seeded by getrandom.
    public static func generate(bits: UInt32 = DeviceKey.bits) throws(DeviceKeyError) -> DeviceKey {
        guard let rng = RandomGenerator(personalization: "tether-device-key") else {
            throw .generateFailed(code: -0x0034)
        }
        let key = DeviceKey()
        var rc = mbedtls_pk_setup(key.pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA))
        if rc != 0 { throw .generateFailed(code: rc) }
        let rsa = key.pk.pointee.pk_ctx.assumingMemoryBound(to: mbedtls_rsa_context.self)
        rc = mbedtls_rsa_gen_key(rsa, mbedtls_ctr_drbg_random, rng.context, bits, exponent)
        if rc != 0 { throw .generateFailed(code: rc) }
        return key
    }

    /// Modulus size in bits.
    public var bitLength: Int { Int(mbedtls_pk_get_bitlen(pk)) }

    /// PKCS#1 "RSA PRIVATE KEY" PEM, 64-character lines, trailing newline.
    public func privateKeyPEM() throws(DeviceKeyError) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: DeviceKey.maxPEMBytes)
        let rc = mbedtls_pk_write_key_pem(pk, &buf, buf.count)
        if rc != 0 { throw .encodeFailed(code: rc) }
        let n = buf.firstIndex(of: 0) ?? buf.count
        let pem = Array(buf[0..<n])
        for i in buf.indices { buf[i] = 0 }
        return pem
    }

    /// Saves the private key atomically with mode 0600, creating missing parents with 0700.
    public func save(to path: String) throws(DeviceKeyError) {
        var pem = try privateKeyPEM()
        defer { for i in pem.indices { pem[i] = 0 } }
        do {
            try Files.makeDirectories(Files.dirname(path), mode: DeviceKey.directoryMode)
            try Files.writeAtomically(path, pem, mode: DeviceKey.fileMode)
        } catch {
            throw .file(error)
        }
    }

    /// DER of the PKCS#1 RSAPublicKey: SEQUENCE { modulus, publicExponent }.
    public func publicKeyDER() throws(DeviceKeyError) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 2048)
        let len = buf.withUnsafeMutableBufferPointer { b -> Int32 in
            var p: UnsafeMutablePointer<UInt8>? = b.baseAddress! + b.count
            return mbedtls_pk_write_pubkey(&p, b.baseAddress!, pk)
        }
        if len < 0 { throw .encodeFailed(code: len) }
        return Array(buf[(buf.count - Int(len))...])
    }

    /// The `public_key` string of PROTOCOL.md 2.2, byte for byte as Go's pem.Encode writes it:
    /// "-----BEGIN RSA PUBLIC KEY-----\n", base64 in 64-character lines each ending in "\n",
    /// "-----END RSA PUBLIC KEY-----\n".
    public func publicKeyPEM() throws(DeviceKeyError) -> String {
        DeviceKey.pem(type: "RSA PUBLIC KEY", der: try publicKeyDER())
    }

    /// PEM armour with 64-column base64 lines (RFC 7468 strict form, as Go writes it).
    public static func pem(type: String, der: [UInt8]) -> String {
        let b64 = Base64.encode(der)
        var out = Array(("-----BEGIN " + type + "-----\n").utf8)
        var i = 0
        while i < b64.count {
            let end = min(i + 64, b64.count)
            out += b64[i..<end]
            out.append(UInt8(ascii: "\n"))
            i = end
        }
        out += Array(("-----END " + type + "-----\n").utf8)
        return String(decoding: out, as: UTF8.self)
    }

    /// Big-endian modulus and exponent (for the SSH "ssh-rsa" host key blob).
    public func publicNumbers() -> (modulus: [UInt8], exponent: [UInt8]) {
        let rsa = pk.pointee.pk_ctx.assumingMemoryBound(to: mbedtls_rsa_context.self)
        let n = mbedtls_rsa_get_len(rsa)
        var modulus = [UInt8](repeating: 0, count: n)
        var exponent = [UInt8](repeating: 0, count: 8)
        _ = mbedtls_rsa_export_raw(rsa, &modulus, n, nil, 0, nil, 0, nil, 0, &exponent, 8)
        let first = exponent.firstIndex { $0 != 0 } ?? 7
        return (modulus, Array(exponent[first...]))
    }

    /// RSASSA-PKCS1-v1_5 SHA-256 signature over `message` (tests and self-checks).
    public func signSHA256(_ message: [UInt8]) throws(DeviceKeyError) -> [UInt8] {
        guard let rng = RandomGenerator(personalization: "tether-sign") else { throw .encodeFailed(code: -0x0034) }
        let rsa = pk.pointee.pk_ctx.assumingMemoryBound(to: mbedtls_rsa_context.self)
        var sig = [UInt8](repeating: 0, count: mbedtls_rsa_get_len(rsa))
        let digest = Crypto.sha256(message)
        let rc = mbedtls_rsa_pkcs1_sign(rsa, mbedtls_ctr_drbg_random, rng.context, MBEDTLS_RSA_PRIVATE,
                                        MBEDTLS_MD_SHA256, 32, digest, &sig)
        if rc != 0 { throw .encodeFailed(code: rc) }
        return sig
    }
}
