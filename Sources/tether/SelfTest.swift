import CShims
import TetherAgent
import TetherPlatform
import TetherSSH
import TetherWire

/// Checks that run inside the shipped binary (host and boards, also under qemu-user): they prove
/// that the codecs, mbedTLS and libssh linked into *this* build compute what they should.
enum SelfTest {
    struct Check {
        let name: String
        let body: () -> String?  // nil = pass, else the reason
    }

    static var checks: [Check] {
        [
            Check(name: "base64 RFC 4648 vectors") {
                let vectors: [(String, String)] = [
                    ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"),
                    ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
                ]
                for (plain, coded) in vectors {
                    if String(decoding: Base64.encode(Array(plain.utf8)), as: UTF8.self) != coded {
                        return "encode \(plain)"
                    }
                    guard let back = Base64.decode(Array(coded.utf8)), back == Array(plain.utf8) else {
                        return "decode \(coded)"
                    }
                }
                return nil
            },
            Check(name: "mbedTLS SHA-256 (FIPS 180-2 'abc')") {
                let hex = Hex.encode(Crypto.sha256(Array("abc".utf8)))
                return hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                    ? nil : "got \(hex)"
            },
            Check(name: "kernel random bytes") {
                var a = [UInt8](repeating: 0, count: 32)
                var b = [UInt8](repeating: 0, count: 32)
                let ra = a.withUnsafeMutableBytes { tether_random_bytes($0.baseAddress, 32) }
                let rb = b.withUnsafeMutableBytes { tether_random_bytes($0.baseAddress, 32) }
                return ra == 0 && rb == 0 && a != b ? nil : "getrandom failed"
            },
            Check(name: "libssh server bind (\(SSHLibrary.version))") {
                SSHLibrary.canCreateServerBind() ? nil : "ssh_bind_new returned NULL"
            },
        ]
    }

    static func run() -> Int {
        Console.out(BuildInfo.versionLine)
        Console.out("mbedTLS \(Crypto.mbedTLSVersion), libssh \(SSHLibrary.version)")
        var failed = 0
        let all = checks
        for check in all {
            if let why = check.body() {
                failed += 1
                Console.out("FAIL \(check.name): \(why)")
            } else {
                Console.out("ok   \(check.name)")
            }
        }
        Console.out("selftest: \(all.count - failed) passed, \(failed) failed")
        return failed == 0 ? 0 : 1
    }
}
