import CShims
import TetherPlatform

/// Whole small files (account databases, locale files), read with plain read(2).
enum FileBytes {
    /// errno of the last read that failed (0: too large), for the log.
    nonisolated(unsafe) static var lastError: Int32 = 0

    /// The file's bytes, or nil when it cannot be read or exceeds `limit` bytes.
    static func read(_ path: String, limit: Int = SSHLimits.accountFileBytes) -> [UInt8]? {
        let fd = tether_open_read(path)
        if fd < 0 {
            lastError = -fd
            return nil
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { CShims.read(fd, $0.baseAddress, 4096) }
            if n < 0 {
                if tether_errno() == EINTR { continue }
                lastError = tether_errno()
                return nil
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > limit {
                lastError = 0
                return nil
            }
        }
        return out
    }

    /// ": <errno text>" for a refusal line, or ": too large".
    static func reason(_ errno: Int32) -> String {
        errno == 0 ? ": too large" : ": " + Errno.text(errno)
    }

    /// Lines of a text file split on '\n' (without the newline); nil when unreadable.
    static func lines(_ path: String) -> [Substring]? {
        guard let bytes = read(path) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false)
    }
}
