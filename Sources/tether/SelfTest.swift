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
                        return "encode " + String(plain)
                    }
                    guard let back = Base64.decode(Array(coded.utf8)), back == Array(plain.utf8) else {
                        return "decode " + String(coded)
                    }
                }
                return nil
            },
            Check(name: "WebSocket accept key (RFC 6455 4.2.2)") {
                let accept = WebSocketHandshake.accept(forKey: Array("dGhlIHNhbXBsZSBub25jZQ==".utf8))
                return accept == Array("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".utf8) ? nil : "wrong accept"
            },
            Check(name: "yamux ping ACK bytes (PROTOCOL.md App. A)") {
                var out: [UInt8] = []
                YamuxHeader(type: .ping, flags: .ack, length: 7).encode(into: &out)
                return out == [0, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7] ? nil : "wrong bytes"
            },
            Check(name: "crypt(3): $1$ $6$ and yescrypt $y$") {
                let vectors = [
                    ("$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/", "$1$saltsalt$"),
                    ("$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/", "$6$saltsalt$"),
                    ("$y$j9T$F5Jx5fExrKuPp53xLKQ..1$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$"),
                ]
                for (hash, setting) in vectors {
                    guard PasswordCheck.crypt(password: "password", setting: setting) == hash else {
                        return String(setting.prefix(3)) + " not supported"
                    }
                }
                return nil
            },
            Check(name: "mbedTLS SHA-256 (FIPS 180-2 'abc')") {
                let hex = Hex.encode(Crypto.sha256(Array("abc".utf8)))
                return hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                    ? nil : "got " + String(hex)
            },
            Check(name: "kernel random bytes") {
                var a = [UInt8](repeating: 0, count: 32)
                var b = [UInt8](repeating: 0, count: 32)
                let ra = a.withUnsafeMutableBytes { tether_random_bytes($0.baseAddress, 32) }
                let rb = b.withUnsafeMutableBytes { tether_random_bytes($0.baseAddress, 32) }
                return ra == 0 && rb == 0 && a != b ? nil : "getrandom failed"
            },
            Check(name: "libssh server bind (" + String(SSHLibrary.version) + ")") {
                SSHLibrary.canCreateServerBind() ? nil : "ssh_bind_new returned NULL"
            },
        ]
    }

    static func run() -> Int {
        Console.out(BuildInfo.versionLine)
        Console.out("mbedTLS " + String(Crypto.mbedTLSVersion) + ", libssh " + String(SSHLibrary.version))
        var failed = 0
        let all = checks
        for check in all {
            if let why = check.body() {
                failed += 1
                Console.out("FAIL " + String(check.name) + ": " + String(why))
            } else {
                Console.out("ok   " + String(check.name))
            }
        }
        Console.out("selftest: " + String(all.count - failed) + " passed, " + String(failed) + " failed")
        return failed == 0 ? 0 : 1
    }
}
