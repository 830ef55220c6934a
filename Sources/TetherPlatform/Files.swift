import CShims

/// File failures with the path and errno.
public enum FileError: Error, Equatable {
    case openFailed(path: String, errno: Int32)
    case readFailed(path: String, errno: Int32)
    case tooLarge(path: String, limit: Int)
    case writeFailed(path: String, errno: Int32)
    case mkdirFailed(path: String, errno: Int32)

    public var message: String {
        switch self {
        case .openFailed(let p, let e): return "open " + p + ": " + Errno.text(e)
        case .readFailed(let p, let e): return "read " + p + ": " + Errno.text(e)
        case .tooLarge(let p, let l): return p + ": larger than " + String(l) + " bytes"
        case .writeFailed(let p, let e): return "write " + p + ": " + Errno.text(e)
        case .mkdirFailed(let p, let e): return "mkdir " + p + ": " + Errno.text(e)
        }
    }
}

/// Small-file helpers: bounded reads and atomic, durable writes.
public enum Files {
    /// Reads a whole file of at most `limit` bytes.
    public static func read(_ path: String, limit: Int = 65_536) throws(FileError) -> [UInt8] {
        let fd = tether_open(path, O_RDONLY, 0)
        if fd < 0 { throw .openFailed(path: path, errno: Errno.current) }
        defer { _ = close(fd) }
        var out = [UInt8](repeating: 0, count: limit + 1)
        var used = 0
        while used <= limit {
            let n = out.withUnsafeMutableBytes { CShims.read(fd, $0.baseAddress! + used, limit + 1 - used) }
            if n < 0 {
                if Errno.current == EINTR { continue }
                throw .readFailed(path: path, errno: Errno.current)
            }
            if n == 0 { break }
            used += n
        }
        if used > limit { throw .tooLarge(path: path, limit: limit) }
        out.removeSubrange(used...)
        return out
    }

    /// A file's text with surrounding whitespace removed, or nil if it cannot be read.
    public static func readTrimmed(_ path: String, limit: Int = 4096) -> String? {
        guard let bytes = try? read(path, limit: limit) else { return nil }
        var lo = 0, hi = bytes.count
        while lo < hi && isSpace(bytes[lo]) { lo += 1 }
        while hi > lo && isSpace(bytes[hi - 1]) { hi -= 1 }
        return String(decoding: bytes[lo..<hi], as: UTF8.self)
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Whether `path` is a regular file owned by this process's effective user and writable by
    /// nobody else (the rule /etc/shadow and /etc/passwd follow): one that another account
    /// could write must not decide who logs in.
    public static func isOwnedRegularFile(_ path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        let type = UInt32(st.st_mode) & 0o170000
        return type == 0o100000 && st.st_uid == geteuid() && UInt32(st.st_mode) & 0o022 == 0
    }

    /// The names in a directory (without `.` and `..`), or nil when it cannot be read.
    public static func list(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The canonical path (symbolic links resolved), or nil.
    public static func resolved(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// Removes a file; true when it is gone (also when it was not there).
    public static func remove(_ path: String) -> Bool { unlink(path) == 0 || Errno.current == ENOENT }

    /// Creates `path` and its missing parents with `mode` (like `mkdir -p`).
    public static func makeDirectories(_ path: String, mode: UInt32) throws(FileError) {
        if path.isEmpty || exists(path) { return }
        let parent = dirname(path)
        if parent != path { try makeDirectories(parent, mode: mode) }
        if mkdir(path, mode_t(mode)) != 0 && Errno.current != EEXIST {
            throw .mkdirFailed(path: path, errno: Errno.current)
        }
    }

    /// "/a/b/c" → "/a/b"; "c" → ".".
    public static func dirname(_ path: String) -> String {
        let u = Array(path.utf8)
        var end = u.count
        while end > 1 && u[end - 1] == UInt8(ascii: "/") { end -= 1 }
        while end > 0 && u[end - 1] != UInt8(ascii: "/") { end -= 1 }
        if end == 0 { return "." }
        while end > 1 && u[end - 1] == UInt8(ascii: "/") { end -= 1 }
        return String(decoding: u[0..<end], as: UTF8.self)
    }

    /// Writes `bytes` to `path` atomically: a temporary file in the same directory created
    /// with `mode`, written, fsync'd, renamed over `path`, then the directory fsync'd. A crash
    /// leaves either the old file or the new one, never a torn one.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: UInt32) throws(FileError) {
        let tmp = path + ".tmp." + String(getpid())
        let fd = tether_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL, mode)
        if fd < 0 { throw .openFailed(path: tmp, errno: Errno.current) }
        // The umask may have masked bits off; set the mode exactly.
        _ = fchmod(fd, mode_t(mode))
        let rc = bytes.withUnsafeBytes { tether_write_all(fd, $0.baseAddress, $0.count) }
        if rc != 0 || fsync(fd) != 0 {
            let e = rc != 0 ? -rc : Errno.current
            _ = close(fd)
            _ = unlink(tmp)
            throw .writeFailed(path: tmp, errno: e)
        }
        _ = close(fd)
        if rename(tmp, path) != 0 {
            let e = Errno.current
            _ = unlink(tmp)
            throw .writeFailed(path: path, errno: e)
        }
        let dfd = tether_open(dirname(path), O_RDONLY, 0)
        if dfd >= 0 {
            _ = fsync(dfd)
            _ = close(dfd)
        }
    }
}
