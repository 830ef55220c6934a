/// The device key proof of newer ShellHub servers (after v0.27.0-rc.6; `pkg/devicekey`,
/// docs/protocol-changes.md): the agent fetches a single-use challenge from
/// `POST /api/devices/auth/challenge`, signs a statement with its device key (rsa-sha2-256,
/// RSASSA-PKCS1-v1_5 with SHA-256) and sends the challenge and the signature in the
/// `/api/devices/auth` body. Sans-I/O: the signing itself is the caller's (mbedTLS).
public enum DeviceKeyProof {
    /// The first string of the statement, naming what the signature is for.
    public static let purpose = "shellhub-device-auth-v1"
    /// The SSH signature algorithm; a plain `ssh-rsa` (SHA-1) signature is refused.
    public static let algorithm = "rsa-sha2-256"

    /// The signed message: the SSH wire encoding (`string` = uint32 big-endian length, bytes)
    /// of purpose, challenge, tenant_id, provisioning_key and public_key, each exactly as the
    /// request carries it (a member the request omits is signed empty).
    public static func statement(
        challenge: String, tenantID: String, provisioningKey: String, publicKey: String
    ) -> [UInt8] {
        var out: [UInt8] = []
        for s in [purpose, challenge, tenantID, provisioningKey, publicKey] {
            appendString(Array(s.utf8), to: &out)
        }
        return out
    }

    /// The `signature` member: standard base64 of the SSH signature blob
    /// (`string "rsa-sha2-256"`, `string <PKCS#1 v1.5 signature bytes>`).
    public static func signatureField(rsaSignature: [UInt8]) -> String {
        var blob: [UInt8] = []
        appendString(Array(algorithm.utf8), to: &blob)
        appendString(rsaSignature, to: &blob)
        return String(decoding: Base64.encode(blob), as: UTF8.self)
    }

    static func appendString(_ bytes: [UInt8], to out: inout [UInt8]) {
        let n = UInt32(truncatingIfNeeded: bytes.count)
        out.append(UInt8(truncatingIfNeeded: n >> 24))
        out.append(UInt8(truncatingIfNeeded: n >> 16))
        out.append(UInt8(truncatingIfNeeded: n >> 8))
        out.append(UInt8(truncatingIfNeeded: n))
        out.append(contentsOf: bytes)
    }
}

/// Answer of `POST /api/devices/auth/challenge`: `{"challenge": "...", "expires_in": 60}`.
public struct DeviceAuthChallenge: Equatable {
    public var challenge: String
    public var expiresIn: Int64

    public init(challenge: String, expiresIn: Int64) {
        self.challenge = challenge
        self.expiresIn = expiresIn
    }

    /// `challenge` is required and non-empty; `expires_in` reads 0 when absent.
    public static func parse<C: Collection>(_ body: C) throws(ShellHubAPIError) -> DeviceAuthChallenge
    where C.Element == UInt8 {
        let v = try ShellHubAPIFields.object(body)
        let c = try ShellHubAPIFields.string(v, "challenge")
        guard !c.isEmpty else { throw ShellHubAPIError.missingField("challenge") }
        let e = try ShellHubAPIFields.optionalInt(v, "expires_in") ?? 0
        return DeviceAuthChallenge(challenge: c, expiresIn: e)
    }
}
