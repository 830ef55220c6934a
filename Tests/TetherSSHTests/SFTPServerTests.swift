import Testing
@testable import TetherSSH

@Suite struct SFTPServerTests {
    /// A request body: type, id, then fields already encoded.
    func request(_ type: SFTP.Request, id: UInt32, _ fields: (inout SFTPWriter) -> Void) -> [UInt8] {
        var w = SFTPWriter(.status)  // the builder's type byte is replaced below
        w.bytes = [type.rawValue]
        w.u32(id)
        fields(&w)
        return w.bytes
    }

    func parse(_ reply: [UInt8]) -> (type: UInt8, reader: SFTPReader) {
        var r = SFTPReader(reply)
        let len = r.u32()!
        #expect(Int(len) == reply.count - 4)
        let type = r.u8()!
        return (type, r)
    }

    @Test func versionAndFileRoundTrip() {
        let dir = TestSupport.tempDir()
        let sftp = SFTPServer()
        var (type, r) = parse(sftp.handle([SFTP.Request.initialize.rawValue, 0, 0, 0, 3])!)
        #expect(type == SFTP.Reply.version.rawValue)
        #expect(r.u32() == 3)

        let path = dir + "/f.txt"
        (type, r) = parse(sftp.handle(request(.open, id: 7) {
            $0.string(path)
            $0.u32(SFTP.OpenFlag.write | SFTP.OpenFlag.create | SFTP.OpenFlag.truncate)
            $0.attrs(SFTPAttributes(permissions: 0o640))
        })!)
        #expect(type == SFTP.Reply.handle.rawValue)
        #expect(r.u32() == 7)
        let handle = r.string()!

        (type, r) = parse(sftp.handle(request(.write, id: 8) {
            $0.string(handle)
            $0.u64(0)
            $0.string(Array("hello sftp".utf8))
        })!)
        #expect(type == SFTP.Reply.status.rawValue)
        #expect(r.u32() == 8)
        #expect(r.u32() == SFTP.Status.ok.rawValue)
        _ = sftp.handle(request(.close, id: 9) { $0.string(handle) })

        (type, r) = parse(sftp.handle(request(.stat, id: 10) { $0.string(path) })!)
        #expect(type == SFTP.Reply.attrs.rawValue)
        #expect(r.u32() == 10)
        let attrs = r.attrs()!
        #expect(attrs.size == 10)
        #expect(attrs.permissions.map { $0 & 0o777 } == 0o640)

        (type, r) = parse(sftp.handle(request(.open, id: 11) {
            $0.string(path)
            $0.u32(SFTP.OpenFlag.read)
            $0.attrs(SFTPAttributes())
        })!)
        _ = r.u32()
        let h2 = r.string()!
        (type, r) = parse(sftp.handle(request(.read, id: 12) { $0.string(h2); $0.u64(6); $0.u32(100) })!)
        #expect(type == SFTP.Reply.data.rawValue)
        #expect(r.u32() == 12)
        #expect(r.string() == Array("sftp".utf8))
        (type, r) = parse(sftp.handle(request(.read, id: 13) { $0.string(h2); $0.u64(10); $0.u32(100) })!)
        _ = r.u32()
        #expect(r.u32() == SFTP.Status.eof.rawValue)
    }

    @Test func errorsAndPaths() {
        let sftp = SFTPServer()
        var (type, r) = parse(sftp.handle(request(.stat, id: 1) { $0.string("/no/such/file/here") })!)
        #expect(type == SFTP.Reply.status.rawValue)
        _ = r.u32()
        #expect(r.u32() == SFTP.Status.noSuchFile.rawValue)
        (type, r) = parse(sftp.handle(request(.close, id: 2) { $0.string([0, 0, 0, 99]) })!)
        _ = r.u32()
        #expect(r.u32() == SFTP.Status.failure.rawValue)
        (type, r) = parse(sftp.handle([SFTP.Request.open.rawValue, 0, 0, 0, 3, 0, 0])!)
        _ = r.u32()
        #expect(r.u32() == SFTP.Status.badMessage.rawValue)
        #expect(SFTPServer.canonical("/a/b/../c/./d/") == "/a/c/d")
        #expect(SFTPServer.canonical("/") == "/")
        #expect(SFTPServer.canonical("/tmp/../tmp") == "/tmp")
    }

    /// Offsets and sizes are uint64 on the wire: one above Int64.max (or one that overflows with
    /// the length) is refused with a status, not a trap in the SFTP process.
    @Test func offsetsBeyondOffTAreRefused() {
        let dir = TestSupport.tempDir()
        let sftp = SFTPServer()
        _ = sftp.handle([SFTP.Request.initialize.rawValue, 0, 0, 0, 3])
        let path = dir + "/big.txt"
        var (_, r) = parse(sftp.handle(request(.open, id: 1) {
            $0.string(path)
            $0.u32(SFTP.OpenFlag.read | SFTP.OpenFlag.write | SFTP.OpenFlag.create)
            $0.attrs(SFTPAttributes())
        })!)
        _ = r.u32()
        let handle = r.string()!
        let hostile: [UInt64] = [UInt64.max, UInt64(Int64.max) + 1, UInt64(Int64.max) - 2]
        for offset in hostile {
            (_, r) = parse(sftp.handle(request(.read, id: 2) { $0.string(handle); $0.u64(offset); $0.u32(100) })!)
            _ = r.u32()
            #expect(r.u32() == SFTP.Status.failure.rawValue)
            (_, r) = parse(sftp.handle(request(.write, id: 3) {
                $0.string(handle); $0.u64(offset); $0.string(Array("0123456789".utf8))
            })!)
            _ = r.u32()
            #expect(r.u32() == SFTP.Status.failure.rawValue)
        }
        for size in [UInt64.max, UInt64(Int64.max) + 1] {
            (_, r) = parse(sftp.handle(request(.fsetstat, id: 4) { $0.string(handle); $0.attrs(SFTPAttributes(size: size)) })!)
            _ = r.u32()
            #expect(r.u32() == SFTP.Status.failure.rawValue)
            (_, r) = parse(sftp.handle(request(.setstat, id: 5) { $0.string(path); $0.attrs(SFTPAttributes(size: size)) })!)
            _ = r.u32()
            #expect(r.u32() == SFTP.Status.failure.rawValue)
        }
        // A large offset that fits still works (a sparse write far out, then read back).
        let far = UInt64(1) << 40
        (_, r) = parse(sftp.handle(request(.write, id: 6) { $0.string(handle); $0.u64(far); $0.string([7]) })!)
        _ = r.u32()
        #expect(r.u32() == SFTP.Status.ok.rawValue)
        (_, r) = parse(sftp.handle(request(.read, id: 7) { $0.string(handle); $0.u64(far); $0.u32(10) })!)
        _ = r.u32()
        #expect(r.string() == [7])
    }
}
