import CShims

/// A built-in SFTP v3 server for boards without OpenSSH's sftp-server (most routers). It runs
/// in a child process (`tether sftp-server`, started like sftp-server, already running as the
/// user and in the home directory), speaking SFTP on stdin/stdout with plain blocking I/O: the
/// agent's loop only pipes its bytes, as for any other program.
public final class SFTPServer {
    enum Handle {
        case file(Int32)
        case directory(UnsafeMutableRawPointer, path: String)
    }

    /// Open handles in a fixed table; the handle string is the slot index. (No Dictionary:
    /// hashing needs arc4random_buf, which static musl does not have.)
    var handles = [Handle?](repeating: nil, count: SFTP.maxHandles)

    public init() {}

    deinit {
        for case let h? in handles { closeHandle(h) }
    }

    /// Serves until the input ends. Returns the process exit status.
    public static func run(input: Int32 = 0, output: Int32 = 1) -> Int32 {
        let server = SFTPServer()
        while true {
            guard let header = readExactly(input, 4) else { return 0 }
            let len32 = UInt32(header[0]) << 24 | UInt32(header[1]) << 16 | UInt32(header[2]) << 8
                | UInt32(header[3])
            let len = Int(clamping: len32)
            guard len >= 1, len <= SFTP.maxPacket, let body = readExactly(input, len) else { return 1 }
            guard let reply = server.handle(body) else { continue }
            let rc = reply.withUnsafeBytes { tether_write_all(output, $0.baseAddress, $0.count) }
            if rc != 0 { return 1 }
        }
    }

    static func readExactly(_ fd: Int32, _ n: Int) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = buf.withUnsafeMutableBytes { CShims.read(fd, $0.baseAddress! + got, n - got) }
            if r < 0 && tether_errno() == EINTR { continue }
            if r <= 0 { return nil }
            got += r
        }
        return buf
    }

    // MARK: Requests

    /// One request body (type byte first) → the reply packet, or nil when none is due.
    func handle(_ body: [UInt8]) -> [UInt8]? {
        var r = SFTPReader(body)
        guard let typeByte = r.u8() else { return nil }
        if typeByte == SFTP.Request.initialize.rawValue {
            var w = SFTPWriter(.version)
            w.u32(SFTP.version)
            return w.finish()
        }
        guard let id = r.u32() else { return nil }
        guard let type = SFTP.Request(rawValue: typeByte) else {
            return status(id, .opUnsupported, "unsupported request")
        }
        switch type {
        case .initialize: return nil
        case .open: return open(id, &r)
        case .close: return closeRequest(id, &r)
        case .read: return read(id, &r)
        case .write: return write(id, &r)
        case .lstat, .stat: return statRequest(id, &r, followLinks: type == .stat)
        case .fstat: return fstatRequest(id, &r)
        case .setstat:
            guard let path = r.text(), let a = r.attrs() else { return bad(id) }
            return apply(id, a, path: path, fd: -1)
        case .fsetstat:
            guard let h = handleId(&r), case .file(let fd)? = handles[h], let a = r.attrs() else {
                return status(id, .failure, "bad handle")
            }
            return apply(id, a, path: "", fd: fd)
        case .opendir: return opendirRequest(id, &r)
        case .readdir: return readdir(id, &r)
        case .remove:
            guard let path = r.text() else { return bad(id) }
            return unlink(path) == 0 ? status(id, .ok) : errnoStatus(id)
        case .mkdir:
            guard let path = r.text(), let a = r.attrs() else { return bad(id) }
            return mkdir(path, mode_t(a.permissions.map { $0 & 0o7777 } ?? 0o777)) == 0
                ? status(id, .ok) : errnoStatus(id)
        case .rmdir:
            guard let path = r.text() else { return bad(id) }
            return rmdir(path) == 0 ? status(id, .ok) : errnoStatus(id)
        case .realpath:
            guard let path = r.text() else { return bad(id) }
            return nameReply(id, [(SFTPServer.canonical(path), "", nil)])
        case .rename:
            guard let from = r.text(), let to = r.text() else { return bad(id) }
            let rc = tether_rename(from, to)
            return rc == 0 ? status(id, .ok) : errnoStatus(id, -rc)
        case .readlink: return readlinkRequest(id, &r)
        case .symlink:
            // OpenSSH's sftp sends (linkpath, targetpath) in the reverse of the draft's order.
            guard let linkPath = r.text(), let target = r.text() else { return bad(id) }
            return symlink(target, linkPath) == 0 ? status(id, .ok) : errnoStatus(id)
        case .extended:
            return status(id, .opUnsupported, "no extensions")
        }
    }

    @inline(__always)
    private func closeRequest(_ id: UInt32, _ r: inout SFTPReader) -> [UInt8] {
        guard let h = handleId(&r), let handle = handles[h] else {
            return status(id, .failure, "bad handle")
        }
        handles[h] = nil
        closeHandle(handle)
        return status(id, .ok)
    }

    @inline(__always)
    private func statRequest(_ id: UInt32, _ r: inout SFTPReader, followLinks: Bool) -> [UInt8] {
        guard let path = r.text() else { return bad(id) }
        var st = stat()
        let rc = followLinks ? stat(path, &st) : lstat(path, &st)
        return rc == 0 ? attrsReply(id, st) : errnoStatus(id)
    }

    @inline(__always)
    private func fstatRequest(_ id: UInt32, _ r: inout SFTPReader) -> [UInt8] {
        guard let h = handleId(&r), case .file(let fd)? = handles[h] else { return status(id, .failure, "bad handle") }
        var st = stat()
        return fstat(fd, &st) == 0 ? attrsReply(id, st) : errnoStatus(id)
    }

    @inline(__always)
    private func opendirRequest(_ id: UInt32, _ r: inout SFTPReader) -> [UInt8] {
        guard let path = r.text() else { return bad(id) }
        guard handles.contains(where: { $0 == nil }) else { return status(id, .failure, "too many handles") }
        guard let dir = tether_opendir(path) else { return errnoStatus(id) }
        return newHandle(id, .directory(dir, path: path))
    }

    @inline(__always)
    private func readlinkRequest(_ id: UInt32, _ r: inout SFTPReader) -> [UInt8] {
        guard let path = r.text() else { return bad(id) }
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buf, 4095)
        guard n >= 0 else { return errnoStatus(id) }
        let target = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return nameReply(id, [(target, "", nil)])
    }

    private func open(_ id: UInt32, _ r: inout SFTPReader) -> [UInt8] {
        guard let path = r.text(), let pflags = r.u32(), let a = r.attrs() else { return bad(id) }
        guard handles.contains(where: { $0 == nil }) else { return status(id, .failure, "too many handles") }
        var flags: Int32
        let rd = pflags & SFTP.OpenFlag.read != 0
        let wr = pflags & SFTP.OpenFlag.write != 0
        flags = rd && wr ? O_RDWR : (wr ? O_WRONLY : O_RDONLY)
        if pflags & SFTP.OpenFlag.append != 0 { flags |= O_APPEND }
        if pflags & SFTP.OpenFlag.create != 0 { flags |= O_CREAT }
        if pflags & SFTP.OpenFlag.truncate != 0 { flags |= O_TRUNC }
        if pflags & SFTP.OpenFlag.exclusive != 0 { flags |= O_EXCL }
        let mode = a.permissions.map { $0 & 0o7777 } ?? 0o666
        let fd = tether_open_mode(path, flags, mode)
        guard fd >= 0 else { return errnoStatus(id, -fd) }
        return newHandle(id, .file(fd))
    }

    private func read(_ id: UInt32, _ r: inout SFTPReader) -> [UInt8] {
        guard let h = handleId(&r), case .file(let fd)? = handles[h] else { return status(id, .failure, "bad handle") }
        guard let offset = r.u64(), let len = r.u32() else { return bad(id) }
        let want = min(Int(clamping: len), SFTP.maxReadLength)
        guard let at = SFTPServer.fileOffset(offset, plus: want) else { return outOfRange(id) }
        var w = SFTPWriter(.data)
        w.u32(id)
        w.u32(0)  // length, patched below
        let start = w.bytes.count
        w.bytes += [UInt8](repeating: 0, count: want)
        let n = w.bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + start, want, at) }
        if n < 0 { return errnoStatus(id) }
        if n == 0 && want > 0 { return status(id, .eof, "end of file") }
        w.bytes.removeLast(want - n)
        let nn = UInt32(n)
        w.bytes[start - 4] = UInt8(nn >> 24)
        w.bytes[start - 3] = UInt8(nn >> 16 & 255)
        w.bytes[start - 2] = UInt8(nn >> 8 & 255)
        w.bytes[start - 1] = UInt8(nn & 255)
        return w.finish()
    }

    private func write(_ id: UInt32, _ r: inout SFTPReader) -> [UInt8] {
        guard let h = handleId(&r), case .file(let fd)? = handles[h] else { return status(id, .failure, "bad handle") }
        guard let offset = r.u64(), let data = r.string() else { return bad(id) }
        guard let at = SFTPServer.fileOffset(offset, plus: data.count) else { return outOfRange(id) }
        var done = 0
        while done < data.count {
            let n = data.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, data.count - done, at + off_t(done)) }
            if n < 0 {
                if tether_errno() == EINTR { continue }
                return errnoStatus(id)
            }
            done += n
        }
        return status(id, .ok)
    }

    private func readdir(_ id: UInt32, _ r: inout SFTPReader) -> [UInt8] {
        guard let h = handleId(&r), case .directory(let dir, let base)? = handles[h] else {
            return status(id, .failure, "bad handle")
        }
        var entries: [(String, String, SFTPAttributes?)] = []
        while entries.count < SFTP.readdirBatch, let namePtr = tether_readdir_name(dir) {
            let name = String(cString: namePtr)
            var st = stat()
            let full = base.hasSuffix("/") ? base + name : base + "/" + name
            if lstat(full, &st) == 0 {
                entries.append((name, SFTPServer.longName(name, st), SFTPServer.attributes(st)))
            } else {
                entries.append((name, name, nil))
            }
        }
        if entries.isEmpty { return status(id, .eof, "end of directory") }
        return nameReply(id, entries)
    }

    private func apply(_ id: UInt32, _ a: SFTPAttributes, path: String, fd: Int32) -> [UInt8] {
        if let size = a.size {
            guard let length = SFTPServer.fileOffset(size) else { return outOfRange(id) }
            let rc = fd >= 0 ? ftruncate(fd, length) : truncate(path, length)
            if rc != 0 { return errnoStatus(id) }
        }
        if let p = a.permissions {
            let rc = fd >= 0 ? fchmod(fd, mode_t(p & 0o7777)) : chmod(path, mode_t(p & 0o7777))
            if rc != 0 { return errnoStatus(id) }
        }
        if let u = a.uid, let g = a.gid {
            let rc = fd >= 0 ? fchown(fd, u, g) : chown(path, u, g)
            if rc != 0 { return errnoStatus(id) }
        }
        if let at = a.atime, let mt = a.mtime {
            let rc = tether_set_times(path, fd, Int64(at), Int64(mt))
            if rc != 0 { return errnoStatus(id, -rc) }
        }
        return status(id, .ok)
    }

    // MARK: Replies

    private func handleId(_ r: inout SFTPReader) -> Int? {
        guard let b = r.string(), b.count == 4 else { return nil }
        guard b[0] == 0, b[1] == 0 else { return nil }
        let n = Int(b[2]) << 8 | Int(b[3])
        return n < handles.count ? n : nil
    }

    private func newHandle(_ id: UInt32, _ h: Handle) -> [UInt8] {
        guard let n = handles.firstIndex(where: { $0 == nil }) else {
            closeHandle(h)
            return status(id, .failure, "too many handles")
        }
        handles[n] = h
        var w = SFTPWriter(.handle)
        w.u32(id)
        w.string([UInt8(n >> 24), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)])
        return w.finish()
    }

    private func closeHandle(_ h: Handle) {
        switch h {
        case .file(let fd): close(fd)
        case .directory(let dir, _): tether_closedir(dir)
        }
    }

    private func status(_ id: UInt32, _ code: SFTP.Status, _ message: String = "") -> [UInt8] {
        var w = SFTPWriter(.status)
        w.u32(id)
        w.u32(code.rawValue)
        w.string(message.isEmpty && code == .ok ? "ok" : message)
        w.string("en")
        return w.finish()
    }

    private func bad(_ id: UInt32) -> [UInt8] { status(id, .badMessage, "malformed request") }
    private func outOfRange(_ id: UInt32) -> [UInt8] { status(id, .failure, "offset out of range") }

    /// A client-sent offset or size as a file offset, when it and `extra` bytes past it fit in
    /// `off_t` (offsets are uint64 on the wire; converting one above Int64.max would trap).
    static func fileOffset(_ value: UInt64, plus extra: Int = 0) -> off_t? {
        let limit = UInt64(Int64.max) - UInt64(extra)
        return value <= limit ? off_t(value) : nil
    }

    private func errnoStatus(_ id: UInt32, _ e: Int32? = nil) -> [UInt8] {
        let err = e ?? tether_errno()
        switch err {
        case ENOENT, ENOTDIR: return status(id, .noSuchFile, "no such file")
        case EACCES, EPERM: return status(id, .permissionDenied, "permission denied")
        default: return status(id, .failure, "failure (errno " + String(err) + ")")
        }
    }

    private func attrsReply(_ id: UInt32, _ st: stat) -> [UInt8] {
        var w = SFTPWriter(.attrs)
        w.u32(id)
        w.attrs(SFTPServer.attributes(st))
        return w.finish()
    }

    private func nameReply(_ id: UInt32, _ entries: [(String, String, SFTPAttributes?)]) -> [UInt8] {
        var w = SFTPWriter(.name)
        w.u32(id)
        w.u32(UInt32(entries.count))
        for (name, long, attrs) in entries {
            w.string(name)
            w.string(long)
            w.attrs(attrs ?? SFTPAttributes())
        }
        return w.finish()
    }

    // MARK: Paths and attributes

    static func attributes(_ st: stat) -> SFTPAttributes {
        SFTPAttributes(
            size: UInt64(st.st_size), uid: st.st_uid, gid: st.st_gid, permissions: UInt32(st.st_mode),
            atime: UInt32(truncatingIfNeeded: st.st_atim.tv_sec),
            mtime: UInt32(truncatingIfNeeded: st.st_mtim.tv_sec))
    }

    /// `ls -l`-like line; clients only display it.
    static func longName(_ name: String, _ st: stat) -> String {
        let mode = UInt32(st.st_mode)
        var perms: [UInt8] = []
        switch mode & 0o170000 {
        case 0o040000: perms.append(UInt8(ascii: "d"))
        case 0o120000: perms.append(UInt8(ascii: "l"))
        default: perms.append(UInt8(ascii: "-"))
        }
        let letters: [UInt8] = Array("rwxrwxrwx".utf8)
        for i in 0..<9 {
            perms.append(mode & (0o400 >> UInt32(i)) != 0 ? letters[i] : UInt8(ascii: "-"))
        }
        return String(decoding: perms, as: UTF8.self) + " 1 " + String(st.st_uid) + " " + String(st.st_gid) + " " + String(st.st_size) + " " + String(name)
    }

    /// Absolute, normalised path: realpath when it exists, else lexical ("." and ".." folded
    /// against the working directory, which is the user's home).
    static func canonical(_ path: String) -> String {
        if let p = realpath(path.isEmpty ? "." : path, nil) {
            defer { free(p) }
            return String(cString: p)
        }
        var base = "/"
        if !path.hasPrefix("/") {
            var buf = [CChar](repeating: 0, count: 4096)
            if getcwd(&buf, 4096) != nil {
                base = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        var parts: [Substring] = []
        for comp in (base + "/" + path).split(separator: "/") {
            if comp == "." { continue }
            if comp == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(comp)
        }
        return "/" + parts.joined(separator: "/")
    }
}
