import Foundation
import Testing
@testable import TetherSSH

@Suite struct PublicKeyProofTests {
    /// A fresh RSA key: its PEM path, SSH blob and OpenSSH's own MD5 fingerprint.
    static func makeKey(bits: Int = 2048) -> (dir: String, pem: String, blob: [UInt8], md5: String) {
        let dir = TestSupport.tempDir()
        let pem = dir + "/key.pem"
        TestSupport.run(["openssl", "genrsa", "-traditional", "-out", pem, String(bits)])
        chmod(pem, 0o600)
        let pub = TestSupport.text(["ssh-keygen", "-y", "-f", pem])
        TestSupport.write(dir + "/key.pub", pub + "\n")
        let b64 = pub.split(separator: " ")[1]
        let blob = [UInt8](Data(base64Encoded: String(b64))!)
        let fp = TestSupport.text(["ssh-keygen", "-l", "-E", "md5", "-f", dir + "/key.pub"])
        // "3072 MD5:aa:bb:... comment (RSA)"
        let md5 = String(fp.split(separator: " ")[1].dropFirst(4))
        return (dir, pem, blob, md5)
    }

    @Test func fingerprintMatchesOpenSSH() {
        let key = Self.makeKey()
        let fp = PublicKeyProof.md5Fingerprint(blob: key.blob)
        #expect(fp == key.md5)
        #expect(fp.count == 47)
    }

    @Test func signedDataIsGoCompactJSON() {
        #expect(PublicKeyProof.signedData(user: "root", deviceName: "pi-4") ==
            #"{"Username":"root","Namespace":"pi-4"}"#)
        #expect(PublicKeyProof.signedData(user: "a\"b\\c", deviceName: "x\n") ==
            #"{"Username":"a\"b\\c","Namespace":"x\u000a"}"#)
    }

    @Test func verifiesOpenSSLSignatureAndRejectsTampering() {
        let key = Self.makeKey()
        let data = PublicKeyProof.signedData(user: "root", deviceName: "dev")
        TestSupport.write(key.dir + "/data", data)
        let (rc, sig) = TestSupport.run([
            "openssl", "dgst", "-sha256", "-sign", key.pem, key.dir + "/data",
        ])
        #expect(rc == 0)
        let signature = [UInt8](sig)
        #expect(PublicKeyProof.verify(signature: signature, data: Array(data.utf8), blob: key.blob))
        // Through base64 as the hub sends it.
        let decoded = PublicKeyProof.base64Decode(sig.base64EncodedString())
        #expect(decoded == signature)
        // Another message, a flipped bit, another key: all refused.
        #expect(!PublicKeyProof.verify(signature: signature, data: Array((data + " ").utf8), blob: key.blob))
        var flipped = signature
        flipped[10] ^= 1
        #expect(!PublicKeyProof.verify(signature: flipped, data: Array(data.utf8), blob: key.blob))
        let other = Self.makeKey()
        #expect(!PublicKeyProof.verify(signature: signature, data: Array(data.utf8), blob: other.blob))
    }

    @Test func nonRSABlobsAreRefused() {
        let dir = TestSupport.tempDir()
        TestSupport.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir + "/ed"])
        let pub = try! String(contentsOfFile: dir + "/ed.pub", encoding: .utf8)
        let blob = [UInt8](Data(base64Encoded: String(pub.split(separator: " ")[1]))!)
        #expect(PublicKeyProof.rsaComponents(blob: blob) == nil)
        #expect(!PublicKeyProof.verify(signature: [UInt8](repeating: 1, count: 256), data: [1], blob: blob))
        #expect(PublicKeyProof.rsaComponents(blob: [0, 0, 0, 7]) == nil)
        #expect(PublicKeyProof.base64Decode("not base64!") == nil)
    }
}
