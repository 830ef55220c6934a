/// SFTP v3 wire values (draft-ietf-secsh-filexfer-02) and a packet builder/reader.
enum SFTP {
    static let version: UInt32 = 3
    /// Largest request accepted (OpenSSH asks for ≤ 255 KiB reads/writes).
    static let maxPacket = 256 * 1024 + 1024
    static let maxReadLength = 256 * 1024
    /// Open handles (files + directories) per SFTP session.
    static let maxHandles = 64
    static let readdirBatch = 64

    enum Request: UInt8 {
        case initialize = 1, open = 3, close = 4, read = 5, write = 6, lstat = 7, fstat = 8
        case setstat = 9, fsetstat = 10, opendir = 11, readdir = 12, remove = 13, mkdir = 14
        case rmdir = 15, realpath = 16, stat = 17, rename = 18, readlink = 19, symlink = 20
        case extended = 200
    }

    enum Reply: UInt8 {
        case version = 2, status = 101, handle = 102, data = 103, name = 104, attrs = 105
    }

    enum Status: UInt32 {
        case ok = 0, eof = 1, noSuchFile = 2, permissionDenied = 3, failure = 4
        case badMessage = 5, opUnsupported = 8
    }

    enum AttrFlag {
        static let size: UInt32 = 1
        static let uidgid: UInt32 = 2
        static let permissions: UInt32 = 4
        static let acmodtime: UInt32 = 8
        static let extended: UInt32 = 0x8000_0000
    }

    enum OpenFlag {
        static let read: UInt32 = 1
        static let write: UInt32 = 2
        static let append: UInt32 = 4
        static let create: UInt32 = 8
        static let truncate: UInt32 = 0x10
        static let exclusive: UInt32 = 0x20
    }
}

/// File attributes as SFTP v3 carries them; nil fields are absent.
struct SFTPAttributes {
    var size: UInt64?
    var uid: UInt32?
    var gid: UInt32?
    var permissions: UInt32?
    var atime: UInt32?
    var mtime: UInt32?
}

/// Builds one outgoing packet (length prefix filled in by `finish`).
struct SFTPWriter {
    var bytes: [UInt8] = [0, 0, 0, 0]

    init(_ type: SFTP.Reply) { bytes.append(type.rawValue) }

    mutating func u32(_ v: UInt32) {
        bytes += [UInt8(v >> 24), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)]
    }

    mutating func u64(_ v: UInt64) {
        u32(UInt32(v >> 32))
        u32(UInt32(v & 0xffff_ffff))
    }

    mutating func string(_ b: [UInt8]) {
        u32(UInt32(b.count))
        bytes += b
    }

    mutating func string(_ s: String) { string(Array(s.utf8)) }

    mutating func attrs(_ a: SFTPAttributes) {
        var flags: UInt32 = 0
        if a.size != nil { flags |= SFTP.AttrFlag.size }
        if a.uid != nil && a.gid != nil { flags |= SFTP.AttrFlag.uidgid }
        if a.permissions != nil { flags |= SFTP.AttrFlag.permissions }
        if a.atime != nil && a.mtime != nil { flags |= SFTP.AttrFlag.acmodtime }
        u32(flags)
        if let s = a.size { u64(s) }
        if let u = a.uid, let g = a.gid { u32(u); u32(g) }
        if let p = a.permissions { u32(p) }
        if let at = a.atime, let mt = a.mtime { u32(at); u32(mt) }
    }

    mutating func finish() -> [UInt8] {
        let n = UInt32(bytes.count - 4)
        bytes[0] = UInt8(n >> 24)
        bytes[1] = UInt8(n >> 16 & 255)
        bytes[2] = UInt8(n >> 8 & 255)
        bytes[3] = UInt8(n & 255)
        return bytes
    }
}

/// Reads fields of one incoming packet body; every getter returns nil past the end.
struct SFTPReader {
    let bytes: [UInt8]
    var pos: Int

    init(_ bytes: [UInt8], from: Int = 0) {
        self.bytes = bytes
        pos = from
    }

    mutating func u8() -> UInt8? {
        guard pos < bytes.count else { return nil }
        defer { pos += 1 }
        return bytes[pos]
    }

    mutating func u32() -> UInt32? {
        guard bytes.count - pos >= 4 else { return nil }
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(bytes[pos + i]) }
        pos += 4
        return v
    }

    mutating func u64() -> UInt64? {
        guard let hi = u32(), let lo = u32() else { return nil }
        return UInt64(hi) << 32 | UInt64(lo)
    }

    mutating func string() -> [UInt8]? {
        guard let n32 = u32() else { return nil }
        let n = Int(clamping: n32)  // Int is 32 bits on armv7
        guard bytes.count - pos >= n else { return nil }
        defer { pos += n }
        return Array(bytes[pos..<(pos + n)])
    }

    mutating func text() -> String? { string().map { String(decoding: $0, as: UTF8.self) } }

    mutating func attrs() -> SFTPAttributes? {
        guard let flags = u32() else { return nil }
        var a = SFTPAttributes()
        if flags & SFTP.AttrFlag.size != 0 { guard let v = u64() else { return nil }; a.size = v }
        if flags & SFTP.AttrFlag.uidgid != 0 {
            guard let u = u32(), let g = u32() else { return nil }
            a.uid = u
            a.gid = g
        }
        if flags & SFTP.AttrFlag.permissions != 0 { guard let v = u32() else { return nil }; a.permissions = v }
        if flags & SFTP.AttrFlag.acmodtime != 0 {
            guard let at = u32(), let mt = u32() else { return nil }
            a.atime = at
            a.mtime = mt
        }
        if flags & SFTP.AttrFlag.extended != 0 {
            guard let count = u32() else { return nil }
            for _ in 0..<count { guard string() != nil, string() != nil else { return nil } }
        }
        return a
    }
}
