import Foundation
import Testing
import TetherPlatform
import TetherWire

/// The device key proof against vectors of an independent implementation (Python
/// `cryptography` and its own SSH string encoder, Tests/vectors/device_key_proof.py): the
/// statement bytes and the mbedTLS PKCS#1 v1.5 SHA-256 signature must match exactly.
@Suite struct DeviceKeyProofTests {
    static func loadKey() throws -> DeviceKey {
        let dir = makeTempDir("proof")
        let path = dir + "/device.key"
        try DeviceKeyProofVectors.privateKeyPEM.write(toFile: path, atomically: true, encoding: .utf8)
        return try DeviceKey.load(path: path)
    }

    @Test func publicKeyIsTheOneThePythonSideSigned() throws {
        #expect(try Self.loadKey().publicKeyPEM() == DeviceKeyProofVectors.publicKeyPEM)
    }

    @Test(arguments: DeviceKeyProofVectors.cases.indices)
    func statementAndSignatureMatchTheIndependentImplementation(_ i: Int) throws {
        let c = DeviceKeyProofVectors.cases[i]
        let key = try Self.loadKey()
        let msg = DeviceKeyProof.statement(
            challenge: c.challenge, tenantID: c.tenantID, provisioningKey: c.provisioningKey,
            publicKey: try key.publicKeyPEM())
        #expect(msg.count == c.statementLength, "\(c.name)")
        #expect(Hex.encode(Crypto.sha256(msg)) == c.statementSHA256, "\(c.name)")
        let field = DeviceKeyProof.signatureField(rsaSignature: try key.signSHA256(msg))
        #expect(field == c.signatureField, "\(c.name)")
    }

    @Test func theRequestSignsWhatItSends() throws {
        // DeviceAuthRequest.proofStatement covers its own tenant, key and public key.
        let c = DeviceKeyProofVectors.cases[1]
        let r = DeviceAuthRequest(
            info: DeviceInfo(id: "debian", prettyName: "Debian", version: "0.10.0", arch: "arm64"),
            mac: "aa:bb:cc:dd:ee:ff", publicKey: DeviceKeyProofVectors.publicKeyPEM, tenantID: c.tenantID,
            provisioningKey: c.provisioningKey)
        #expect(Hex.encode(Crypto.sha256(r.proofStatement(challenge: c.challenge))) == c.statementSHA256)
        // A changed member is another statement.
        var other = r
        other.tenantID = "x"
        #expect(other.proofStatement(challenge: c.challenge) != r.proofStatement(challenge: c.challenge))
    }
}
