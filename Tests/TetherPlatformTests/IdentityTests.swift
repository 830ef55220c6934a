import Foundation
import Testing
import CShims
import TetherWire
@testable import TetherPlatform

@Suite(.serialized) struct DeviceKeyTests {
    nonisolated(unsafe) static let generated: (DeviceKey, Double) = {
        let t0 = MonotonicClock.nowNanoseconds()
        let k = try! DeviceKey.generate()
        return (k, Double(MonotonicClock.nowNanoseconds() - t0) / 1e6)
    }()

    @Test func createsKeyFileSecurely() throws {
        let dir = makeTempDir("key") + "/new/sub"
        let path = dir + "/shellhub.key"
        let t0 = MonotonicClock.nowNanoseconds()
        let (key, created) = try DeviceKey.loadOrCreate(path: path)
        let ms = Double(MonotonicClock.nowNanoseconds() - t0) / 1e6
        print("RSA-2048 keygen+save: \(ms) ms")
        #expect(created)
        #expect(key.bitLength == 2048)
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(stat(dir, &st) == 0 && st.st_mode & 0o777 == 0o700)
        let text = readText(path)
        #expect(text.hasPrefix("-----BEGIN RSA PRIVATE KEY-----\n"))
        #expect(text.hasSuffix("-----END RSA PRIVATE KEY-----\n"))
        // No temporary file left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["shellhub.key"])
        // openssl reads it as a valid RSA key.
        #expect(shell("openssl rsa -check -noout -in '\(path)'").0 == 0)
        // Loading again gives the same identity.
        let (again, created2) = try DeviceKey.loadOrCreate(path: path)
        #expect(!created2)
        #expect(try again.publicKeyPEM() == key.publicKeyPEM())
    }

    @Test func publicKeyStringIsByteExact() throws {
        // A key as the Go agent (or openssl) writes it: PKCS#1 PEM.
        let dir = makeTempDir("key")
        let path = dir + "/go.key"
        #expect(shell("openssl genrsa -traditional -out '\(path)' 2048 2>/dev/null").0 == 0)
        #expect(readText(path).hasPrefix("-----BEGIN RSA PRIVATE KEY-----"))
        let key = try DeviceKey.load(path: path)
        let expected = shell("openssl rsa -in '\(path)' -RSAPublicKey_out 2>/dev/null").1
        let ours = try key.publicKeyPEM()
        #expect(ours == expected)
        #expect(ours.utf8.count == 426)
        let lines = ours.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 9)  // BEGIN, 6 base64 lines, END, "" after the final newline
        #expect(lines[1].count == 64 && lines[6].count == 40)
        // Our private PEM matches what openssl writes for the same key (PKCS#1).
        #expect(String(decoding: try key.privateKeyPEM(), as: UTF8.self) == readText(path))
    }

    @Test func pkcs8AndGarbage() throws {
        let dir = makeTempDir("key")
        #expect(shell("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out '\(dir)/p8.key' 2>/dev/null").0 == 0)
        #expect(try DeviceKey.load(path: dir + "/p8.key").bitLength == 1024)
        #expect(shell("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '\(dir)/ec.key' 2>/dev/null").0 == 0)
        #expect(throws: DeviceKeyError.notRSA(path: dir + "/ec.key")) { try DeviceKey.load(path: dir + "/ec.key") }
        try "junk".write(toFile: dir + "/bad.key", atomically: true, encoding: .utf8)
        #expect(throws: DeviceKeyError.self) { try DeviceKey.load(path: dir + "/bad.key") }
        #expect(throws: DeviceKeyError.file(.openFailed(path: dir + "/none", errno: ENOENT))) {
            try DeviceKey.load(path: dir + "/none")
        }
    }

    @Test func signVerifyAndFingerprint() throws {
        let (key, ms) = Self.generated
        print("RSA-2048 keygen: \(ms) ms")
        let msg = Array("{\"Username\":\"root\",\"Namespace\":\"dev\"}".utf8)
        let sig = try key.signSHA256(msg)
        let (n, e) = key.publicNumbers()
        #expect(n.count == 256 && e == [0x01, 0x00, 0x01])
        #expect(Crypto.verifyRSASHA256(modulus: n, exponent: e, message: msg, signature: sig))
        var bad = sig
        bad[10] ^= 1
        #expect(!Crypto.verifyRSASHA256(modulus: n, exponent: e, message: msg, signature: bad))
        #expect(!Crypto.verifyRSASHA256(modulus: n, exponent: e, message: msg + [0], signature: sig))
        #expect(!Crypto.verifyRSASHA256(modulus: n, exponent: e, message: msg, signature: Array(sig.dropLast())))
        // Cross-check with openssl: our signature verifies there too.
        let dir = makeTempDir("sig")
        try Data(msg).write(to: URL(fileURLWithPath: dir + "/m"))
        try Data(sig).write(to: URL(fileURLWithPath: dir + "/s"))
        try (try key.publicKeyPEM()).write(toFile: dir + "/pub.pem", atomically: true, encoding: .utf8)
        #expect(shell("openssl dgst -sha256 -verify pub.pem -signature s m", cwd: dir).0 == 0
            || shell("openssl rsa -RSAPublicKey_in -in pub.pem -pubout -out spki.pem && openssl dgst -sha256 -verify spki.pem -signature s m", cwd: dir).0 == 0)
        // MD5 fingerprint format (RFC 1321 test vector "abc").
        #expect(Crypto.md5Fingerprint(sshKeyBlob: Array("abc".utf8))
            == "90:01:50:98:3c:d2:4f:b0:d6:96:3f:7d:28:e1:7f:72")
    }
}

@Suite struct DeviceIdentityTests {
    func fakeNet(_ ifaces: [(String, type: String, index: Int, mac: String, flags: String)]) -> String {
        let root = makeTempDir("net")
        for i in ifaces {
            let d = root + "/" + i.0
            try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            try! (i.type + "\n").write(toFile: d + "/type", atomically: true, encoding: .utf8)
            try! "\(i.index)\n".write(toFile: d + "/ifindex", atomically: true, encoding: .utf8)
            try! (i.mac + "\n").write(toFile: d + "/address", atomically: true, encoding: .utf8)
            try! (i.flags + "\n").write(toFile: d + "/flags", atomically: true, encoding: .utf8)
        }
        return root
    }

    @Test func lowestIfindexEthernet() {
        let net = fakeNet([("lo", "772", 1, "00:00:00:00:00:00", "0x9"),
                           ("wlan0", "1", 3, "AA:BB:CC:00:00:03", "0x1003"),
                           ("eth0", "1", 2, "DC:A6:32:01:02:03", "0x1003"),
                           ("wwan0", "65534", 1, "", "0x1091")])
        let id = DeviceIdentity.select(sysClassNet: net, machineIDPaths: [], serialPaths: [])
        #expect(id == DeviceIdentity(value: "dc:a6:32:01:02:03", source: .interface("eth0")))
        #expect(DeviceIdentity.select(preferred: "my-board", sysClassNet: net)
            == DeviceIdentity(value: "my-board", source: .preferred))
    }

    @Test func fallbackForCellularBoards() throws {
        let net = fakeNet([("lo", "772", 1, "00:00:00:00:00:00", "0x9"),
                           ("wwan0", "65534", 2, "", "0x1091"), ("ppp0", "512", 3, "", "0x10d1")])
        let dir = makeTempDir("mid")
        try "0123456789abcdef0123456789abcdef\n".write(toFile: dir + "/machine-id", atomically: true, encoding: .utf8)
        try "SER123\u{0}".write(toFile: dir + "/serial", atomically: true, encoding: .utf8)
        let a = try #require(DeviceIdentity.select(sysClassNet: net, machineIDPaths: [dir + "/machine-id"],
                                                   serialPaths: [dir + "/serial"]))
        #expect(a.source == .machineID)
        #expect(a.value.hasPrefix("tether-mid-") && a.value.utf8.count == 35)
        #expect(!a.value.contains(":"))
        #expect(a == DeviceIdentity.select(sysClassNet: net, machineIDPaths: [dir + "/machine-id"]))  // stable
        let b = try #require(DeviceIdentity.select(sysClassNet: net, machineIDPaths: [dir + "/none"],
                                                   serialPaths: [dir + "/serial"]))
        #expect(b.source == .deviceTreeSerial && b.value.hasPrefix("tether-dts-"))
        #expect(b.value == "tether-dts-" + Hex.encode(Crypto.sha256(Array("tether-identity:SER123".utf8))[0..<12]))
        #expect(DeviceIdentity.select(sysClassNet: net, machineIDPaths: [], serialPaths: []) == nil)
    }

    @Test func thisHost() {
        // The real /sys/class/net: whatever is picked is a MAC or a fallback, never empty.
        if let id = DeviceIdentity.select() { #expect(!id.value.isEmpty) }
    }
}

@Suite struct SystemInfoTests {
    @Test func osReleaseUnquoting() {
        let text = """
        # comment
        NAME="Debian GNU/Linux"
        ID=debian
        PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
        VERSION='12 (book'"worm)"
        ESC="a \\"b\\" \\$c"
        BARE=Raspbian\\ GNU
        BAD="unterminated
        """
        let f = SystemInfo.parseOSRelease(text)
        func v(_ k: String) -> String? { f.first { $0.0 == k }?.1 }
        #expect(v("ID") == "debian")
        #expect(v("PRETTY_NAME") == "Debian GNU/Linux 12 (bookworm)")
        #expect(v("VERSION") == "12 (bookworm)")
        #expect(v("ESC") == "a \"b\" $c")
        #expect(v("BARE") == "Raspbian GNU")
        #expect(v("BAD") == nil)
    }

    @Test func archMapping() {
        #expect(SystemInfo.goArch(machine: "aarch64") == "arm64")
        #expect(SystemInfo.goArch(machine: "armv7l") == "arm")
        #expect(SystemInfo.goArch(machine: "armv6l") == "arm")
        #expect(SystemInfo.goArch(machine: "x86_64") == "amd64")
        #expect(SystemInfo.goArch(machine: "i686") == "386")
        #expect(SystemInfo.goArch(machine: "mipsel") == "mipsle")
        #expect(SystemInfo.goArch(machine: "riscv64") == "riscv64")
    }

    @Test func currentSystem() throws {
        let dir = makeTempDir("osr")
        try "ID=\"poky\"\nPRETTY_NAME=\"Poky 4.0\"\n".write(toFile: dir + "/os-release", atomically: true, encoding: .utf8)
        let s = SystemInfo.current(osReleasePaths: [dir + "/missing", dir + "/os-release"])
        #expect(s.id == "poky" && s.prettyName == "Poky 4.0")
        #expect(s.arch == "amd64")
        #expect(s.platform == "native")
        let none = SystemInfo.current(osReleasePaths: [dir + "/missing"])
        #expect(none.id == "" && none.prettyName == "")
        #expect(SystemInfo.current().id == "debian")
    }
}
