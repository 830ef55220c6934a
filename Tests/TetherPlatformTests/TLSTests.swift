import Foundation
import Testing
import CShims
@testable import TetherPlatform

/// A throwaway PKI made with the openssl CLI, and an `openssl s_server -www` serving it.
final class TestPKI: Sendable {
    let dir: String
    init() {
        dir = makeTempDir("pki")
        let script = """
        set -e
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj /CN=TetherTestCA -days 2 2>/dev/null
        openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -subj /CN=OtherCA -days 2 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\\n' > san.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile san.ext 2>/dev/null
        openssl x509 -req -in server.csr -CA other.crt -CAkey other.key -CAcreateserial -out server-other.crt -days 2 -extfile san.ext 2>/dev/null
        cat > ca.cnf <<'X'
        [ca]
        default_ca = d
        [d]
        database = index.txt
        new_certs_dir = .
        serial = serial.txt
        default_md = sha256
        policy = p
        copy_extensions = copy
        unique_subject = no
        [p]
        commonName = supplied
        X
        : > index.txt
        echo 01 > serial.txt
        openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in server.csr -out future.crt -startdate 20990101000000Z -enddate 20991231000000Z -notext 2>/dev/null
        """
        let (rc, out) = shell(script, cwd: dir)
        precondition(rc == 0, out)
    }
    func path(_ name: String) -> String { dir + "/" + name }
}

/// `openssl s_server -www` on a free loopback port; killed on deinit.
final class TestTLSServer {
    let process = Process()
    let port: UInt16
    init(pki: TestPKI, cert: String = "server.crt", extra: [String] = []) {
        let probe = listenLoopback()
        port = probe.port
        close(probe.fd)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", pki.path(cert),
                             "-key", pki.path("server.key"), "-www", "-quiet"] + extra
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try! process.run()
        // Wait until it listens.
        for _ in 0..<100 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let ok = SocketAddress(numericHost: "127.0.0.1", port: port)!.withSockaddr { connect(fd, $0, $1) } == 0
            close(fd)
            if ok { break }
            usleep(20_000)
        }
    }
    /// SIGKILL: Foundation's spawn may leave SIGTERM blocked in the child.
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        var status: Int32 = 0
        waitpid(process.processIdentifier, &status, 0)
    }
}

/// Blocking-style driver over the non-blocking API, for tests: poll for what the client asks.
func waitFor(_ fd: Int32, _ progress: TLSProgress, timeoutMs: Int32 = 3000) {
    var p = pollfd(fd: fd, events: Int16(progress == .wantWrite ? POLLOUT : POLLIN), revents: 0)
    _ = poll(&p, 1, timeoutMs)
}

func connectBlocking(port: UInt16) throws -> Int32 {
    let (fd, done) = try Socket.startConnect(to: SocketAddress(numericHost: "127.0.0.1", port: port)!)
    if !done { waitFor(fd, .wantWrite) }
    precondition(Socket.connectResult(fd) == 0)
    return fd
}

func handshake(_ c: TLSClient) throws(TLSError) {
    var rounds = 0
    while true {
        let p = try c.handshake()
        if p == .done { return }
        rounds += 1
        if getenv("TLSDBG") != nil { FileHandle.standardError.write("hs \(p)\n".data(using: .utf8)!) }
        precondition(rounds < 1000)
        waitFor(c.fd, p)
    }
}

/// GET / from s_server -www and return the page.
func fetchPage(_ c: TLSClient) throws -> String {
    let req = Array("GET / HTTP/1.0\r\n\r\n".utf8)
    var sent = 0
    while sent < req.count {
        let r = try req[sent...].withUnsafeBytes { try c.write(from: $0) }
        switch r {
        case .bytes(let n): sent += n
        case .wantRead: waitFor(c.fd, .wantRead)
        case .wantWrite: waitFor(c.fd, .wantWrite)
        case .closed: return ""
        }
    }
    var page: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 512)
    while true {
        let r = try buf.withUnsafeMutableBytes { try c.read(into: $0) }
        switch r {
        case .bytes(let n): page += buf[0..<n]
        case .wantRead: waitFor(c.fd, .wantRead)
        case .wantWrite: waitFor(c.fd, .wantWrite)
        case .closed: return String(decoding: page, as: UTF8.self)
        }
    }
}

@Suite(.serialized) struct TLSTests {
    static let pki = TestPKI()

    @Test func verifiedHandshakeResumptionAndSmallRecords() throws {
        let server = TestTLSServer(pki: Self.pki)
        defer { server.stop() }
        let ctx = try TLSContext(settings: TLSSettings(caFile: Self.pki.path("ca.crt")))
        #expect(ctx.trustedCount == 1)
        #expect(ctx.trustSource == Self.pki.path("ca.crt"))

        let fd1 = try connectBlocking(port: server.port)
        let c1 = try TLSClient(context: ctx, fd: fd1, serverName: "localhost", port: server.port)
        #expect(!c1.offeredSession)
        try handshake(c1)
        #expect(c1.version == "TLSv1.2")
        #expect(c1.cipherSuite.hasPrefix("TLS-ECDHE-RSA-WITH-"))
        #expect(c1.maxRecordPayload == 4096)  // max_fragment_length honoured by OpenSSL
        let page1 = try fetchPage(c1)
        #expect(page1.contains("New, TLSv1.2"))
        #expect(ctx.savedSessionCount == 1)
        _ = c1.closeNotify()
        close(fd1)  // s_server serves one connection at a time

        let fd2 = try connectBlocking(port: server.port)
        defer { close(fd2) }
        let c2 = try TLSClient(context: ctx, fd: fd2, serverName: "localhost", port: server.port)
        #expect(c2.offeredSession)
        try handshake(c2)
        let page2 = try fetchPage(c2)
        #expect(page2.contains("Reused, TLSv1.2"))
    }

    @Test func unknownCAIsRefused() throws {
        let server = TestTLSServer(pki: Self.pki)
        defer { server.stop() }
        let ctx = try TLSContext(settings: TLSSettings(caFile: Self.pki.path("other.crt")))
        let fd = try connectBlocking(port: server.port)
        defer { close(fd) }
        let c = try TLSClient(context: ctx, fd: fd, serverName: "localhost", port: server.port)
        do { try handshake(c); Issue.record("handshake succeeded") } catch {
            guard case .verifyFailed(let flags, _) = error else { Issue.record("\(error)"); return }
            #expect(flags & TLSError.flagNotTrusted != 0)
        }
        let e = TLSError.verifyFailed(flags: TLSError.flagNotTrusted, wallClock: 0)
        #expect(e.message == "tls: certificate refused: unknown CA")
    }

    @Test func hostnameMismatchIsRefused() throws {
        let server = TestTLSServer(pki: Self.pki)
        defer { server.stop() }
        let ctx = try TLSContext(settings: TLSSettings(caFile: Self.pki.path("ca.crt")))
        let fd = try connectBlocking(port: server.port)
        defer { close(fd) }
        let c = try TLSClient(context: ctx, fd: fd, serverName: "hub.example.com", port: server.port)
        var caught: TLSError?
        do { try handshake(c) } catch { caught = error }
        guard case .verifyFailed(let flags, _) = caught else { Issue.record("no verify failure"); return }
        #expect(flags & TLSError.flagNameMismatch != 0)
        #expect(flags & TLSError.flagNotTrusted == 0)
        #expect(caught!.message == "tls: certificate refused: name mismatch")
    }

    @Test func ipLiteralMatchesIPAddressSAN() throws {
        // mbedTLS 2.28 matches only CN and DNS SANs; TLSClient adds iPAddress SAN matching.
        let server = TestTLSServer(pki: Self.pki)
        defer { server.stop() }
        let ctx = try TLSContext(settings: TLSSettings(caFile: Self.pki.path("ca.crt")))
        let fd = try connectBlocking(port: server.port)
        let c = try TLSClient(context: ctx, fd: fd, serverName: "127.0.0.1", port: server.port)
        try handshake(c)
        #expect(c.isHandshakeDone)
        close(fd)  // s_server serves one connection at a time
        // An address the certificate does not name is still refused.
        let fd2 = try connectBlocking(port: server.port)
        defer { close(fd2) }
        let c2 = try TLSClient(context: ctx, fd: fd2, serverName: "127.0.0.2", port: server.port)
        var caught: TLSError?
        do { try handshake(c2) } catch { caught = error }
        guard case .verifyFailed(let flags, _)? = caught else { Issue.record("127.0.0.2 accepted"); return }
        #expect(flags & TLSError.flagNameMismatch != 0)
    }

    @Test func certificateFromTheFutureBlamesTheClock() throws {
        let server = TestTLSServer(pki: Self.pki, cert: "future.crt")
        defer { server.stop() }
        let ctx = try TLSContext(settings: TLSSettings(caFile: Self.pki.path("ca.crt")))
        let fd = try connectBlocking(port: server.port)
        defer { close(fd) }
        let c = try TLSClient(context: ctx, fd: fd, serverName: "localhost", port: server.port)
        var caught: TLSError?
        do { try handshake(c) } catch { caught = error }
        let e = try #require(caught)
        #expect(e.isClockTooEarly)
        #expect(e.message == "clock is " + WallClock.now().dateString
            + ", before certificate validity: set the time (NTP)")
        #expect(TLSError.verifyMessage(flags: TLSError.flagFuture | TLSError.flagNotTrusted, wallClock: 0)
            == "clock is 1970-01-01, before certificate validity: set the time (NTP)")
    }

    @Test func trustSources() throws {
        // The system bundle is found without settings (Debian: ca-certificates.crt).
        let sys = try TLSContext(settings: TLSSettings())
        #expect(sys.trustedCount > 10)
        #expect(sys.trustSource == "/etc/ssl/certs/ca-certificates.crt" || sys.trustSource == "/etc/ssl/certs")
        // An explicit file that does not exist is an error, not a silent fallback.
        #expect(throws: TLSError.self) { try TLSContext(settings: TLSSettings(caFile: "/nonexistent/ca.pem")) }
        // SSL_CERT_FILE is honoured.
        let savedFile = getenv("SSL_CERT_FILE").map { String(cString: $0) }
        let savedDir = getenv("SSL_CERT_DIR").map { String(cString: $0) }
        setenv("SSL_CERT_FILE", Self.pki.path("ca.crt"), 1)
        unsetenv("SSL_CERT_DIR")
        defer {
            if let savedFile { setenv("SSL_CERT_FILE", savedFile, 1) } else { unsetenv("SSL_CERT_FILE") }
            if let savedDir { setenv("SSL_CERT_DIR", savedDir, 1) }
        }
        let env = try TLSContext()
        #expect(env.trustedCount == 1)
        // A directory works too.
        let dir = makeTempDir("cadir")
        try FileManager.default.copyItem(atPath: Self.pki.path("ca.crt"), toPath: dir + "/a.pem")
        try FileManager.default.copyItem(atPath: Self.pki.path("other.crt"), toPath: dir + "/b.pem")
        let d = try TLSContext(settings: TLSSettings(caDirectory: dir))
        #expect(d.trustedCount == 2)
    }

    @Test func aDebianStyleCADirectoryLoadsEachCAOnce() throws {
        // /etc/ssl/certs: the bundle, <name>.pem links and <hash>.0 links, every CA three times.
        let dir = makeTempDir("debian-certs")
        let a = try String(contentsOfFile: Self.pki.path("ca.crt"), encoding: .utf8)
        let b = try String(contentsOfFile: Self.pki.path("other.crt"), encoding: .utf8)
        try (a + b).write(toFile: dir + "/ca-certificates.crt", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: Self.pki.path("ca.crt"), toPath: dir + "/Tether_Test_CA.pem")
        try FileManager.default.copyItem(atPath: Self.pki.path("other.crt"), toPath: dir + "/Other_CA.pem")
        try FileManager.default.createSymbolicLink(atPath: dir + "/0a1b2c3d.0", withDestinationPath: "Tether_Test_CA.pem")
        try FileManager.default.createSymbolicLink(atPath: dir + "/4e5f6a7b.0", withDestinationPath: "Other_CA.pem")
        try FileManager.default.createSymbolicLink(atPath: dir + "/4e5f6a7b.1", withDestinationPath: "Other_CA.pem")
        let ctx = try TLSContext(settings: TLSSettings(caDirectory: dir))
        #expect(ctx.trustedCount == 2)  // was 7 when every file was parsed
        // Without hash links: the .pem/.crt files, a file reached twice through links once.
        let plain = makeTempDir("plain-certs")
        try FileManager.default.copyItem(atPath: Self.pki.path("ca.crt"), toPath: plain + "/a.pem")
        try FileManager.default.createSymbolicLink(atPath: plain + "/again.pem", withDestinationPath: "a.pem")
        try "not a certificate".write(toFile: plain + "/README", atomically: true, encoding: .utf8)
        #expect(try TLSContext(settings: TLSSettings(caDirectory: plain)).trustedCount == 1)
        #expect(TLSSettings.trustFiles(in: ["ca-certificates.crt", "x.pem", "5ad8a5d6.0", "5ad8a5d6.r0", "README"])
                == ["5ad8a5d6.0"])
        #expect(TLSSettings.trustFiles(in: ["b.crt", "a.pem", "README"]) == ["a.pem", "b.crt"])
    }

    @Test func trustCompactsToTheVerifyingRootAndRecovers() throws {
        let dir = makeTempDir("cadir2")
        try FileManager.default.copyItem(atPath: Self.pki.path("ca.crt"), toPath: dir + "/a.pem")
        try FileManager.default.copyItem(atPath: Self.pki.path("other.crt"), toPath: dir + "/b.pem")
        let ctx = try TLSContext(settings: TLSSettings(caDirectory: dir))
        #expect(ctx.trustedCount == 2 && !ctx.trustCompacted)

        let server = TestTLSServer(pki: Self.pki)
        defer { server.stop() }
        let fd = try connectBlocking(port: server.port)
        let c = try TLSClient(context: ctx, fd: fd, serverName: "localhost", port: server.port)
        try handshake(c)
        close(fd)
        #expect(ctx.trustCompacted)
        #expect(ctx.trustedCount == 1)

        // The hub moves to a certificate from the other CA: refused once, then recovered.
        let moved = TestTLSServer(pki: Self.pki, cert: "server-other.crt")
        defer { moved.stop() }
        let fd2 = try connectBlocking(port: moved.port)
        let c2 = try TLSClient(context: ctx, fd: fd2, serverName: "localhost", port: moved.port)
        var caught: TLSError?
        do { try handshake(c2) } catch { caught = error }
        close(fd2)
        guard case .verifyFailed(let flags, _)? = caught else { Issue.record("expected refusal"); return }
        #expect(flags & TLSError.flagNotTrusted != 0)
        #expect(!ctx.trustCompacted && ctx.trustedCount == 2)
        let fd3 = try connectBlocking(port: moved.port)
        defer { close(fd3) }
        let c3 = try TLSClient(context: ctx, fd: fd3, serverName: "localhost", port: moved.port)
        try handshake(c3)
        #expect(ctx.trustCompacted && ctx.trustedCount == 1)
    }

    @Test func retriedWriteWithMoreBytesReportsTheRecordLength() throws {
        // s_server without -www copies what it receives to stdout; while nobody drains that
        // pipe it stops reading the socket, so our writes back up until want-write.
        let probe = listenLoopback()
        let port = probe.port
        close(probe.fd)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", Self.pki.path("server.crt"),
                       "-key", Self.pki.path("server.key"), "-quiet"]
        let out = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardInput = inp
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        for _ in 0..<100 {
            let probeFd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let ok = SocketAddress(numericHost: "127.0.0.1", port: port)!.withSockaddr { connect(probeFd, $0, $1) } == 0
            close(probeFd)
            if ok { break }
            usleep(20_000)
        }
        let fd = try connectBlocking(port: port)
        defer { close(fd) }
        let ctx = try TLSContext(settings: TLSSettings(caFile: Self.pki.path("ca.crt")))
        let c = try TLSClient(context: ctx, fd: fd, serverName: "localhost", port: port)
        try handshake(c)
        func pattern(_ from: Int, _ n: Int) -> [UInt8] { (from..<(from + n)).map { UInt8(truncatingIfNeeded: $0 % 251) } }
        var sent = 0
        var blocked = false
        for _ in 0..<200_000 {
            let r = try pattern(sent, 1000).withUnsafeBytes { try c.write(from: $0) }
            if case .bytes(let n) = r { sent += n; continue }
            blocked = true
            break
        }
        #expect(blocked)
        // Drain s_server's stdout in the background from now on.
        nonisolated(unsafe) var received: [UInt8] = []
        let reader = Thread {
            while true {
                let d = out.fileHandleForReading.availableData
                if d.isEmpty { break }
                received += d
            }
        }
        reader.start()
        // Retry with the same 1000 bytes followed by 2000 more.
        var r = TLSIOResult.wantWrite
        for _ in 0..<500 where r == .wantWrite || r == .wantRead {
            waitFor(fd, .wantWrite, timeoutMs: 20)
            r = try pattern(sent, 3000).withUnsafeBytes { try c.write(from: $0) }
        }
        #expect(r == .bytes(1000))
        sent += 1000
        let tail = try pattern(sent, 500).withUnsafeBytes { try c.write(from: $0) }
        #expect(tail == .bytes(500))
        sent += 500
        for _ in 0..<200 where received.count < sent { usleep(20_000) }
        #expect(received.count == sent)
        #expect(received == pattern(0, sent))
    }

    @Test func bufferedPlaintextIsReported() throws {
        let server = TestTLSServer(pki: Self.pki)
        defer { server.stop() }
        let ctx = try TLSContext(settings: TLSSettings(caFile: Self.pki.path("ca.crt")))
        let fd = try connectBlocking(port: server.port)
        defer { close(fd) }
        let c = try TLSClient(context: ctx, fd: fd, serverName: "localhost", port: server.port)
        try handshake(c)
        let req = Array("GET / HTTP/1.0\r\n\r\n".utf8)
        _ = try req.withUnsafeBytes { try c.write(from: $0) }
        var one = [UInt8](repeating: 0, count: 1)
        var r = TLSIOResult.wantRead
        while r == .wantRead {
            waitFor(fd, .wantRead)
            r = try one.withUnsafeMutableBytes { try c.read(into: $0) }
        }
        #expect(r == .bytes(1))
        #expect(one == [UInt8(ascii: "H")])
        #expect(c.bytesAvailable > 0)  // the rest of the record sits decrypted in mbedTLS
    }
}
