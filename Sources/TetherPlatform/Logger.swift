import CShims

/// Severity of a log line; lines below the logger's minimum level cost one comparison.
public enum LogLevel: Int, Comparable, Sendable {
    case debug = 0, info, warning, error

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }

    /// One letter in the line prefix: D, I, W, E.
    var letter: UInt8 {
        switch self {
        case .debug: return UInt8(ascii: "D")
        case .info: return UInt8(ascii: "I")
        case .warning: return UInt8(ascii: "W")
        case .error: return UInt8(ascii: "E")
        }
    }

    /// syslog(3) priority (LOG_DEBUG 7, LOG_INFO 6, LOG_WARNING 4, LOG_ERR 3).
    var syslogPriority: Int32 {
        switch self {
        case .debug: return 7
        case .info: return 6
        case .warning: return 4
        case .error: return 3
        }
    }

    /// Parses "debug", "info", "warning"/"warn", "error".
    public init?(name: String) {
        switch name {
        case "debug": self = .debug
        case "info": self = .info
        case "warning", "warn": self = .warning
        case "error": self = .error
        default: return nil
        }
    }
}

/// Where log lines go.
public enum LogTarget: Equatable, Sendable {
    case stderr
    case syslog
    /// Appended to a file, reopened on SIGHUP (after logrotate moved it).
    case file(String)
    case none

    /// Parses "stderr", "syslog", "none", "file:/path" or an absolute path.
    public init?(spec: String) {
        switch spec {
        case "stderr": self = .stderr
        case "syslog": self = .syslog
        case "none": self = .none
        default:
            if spec.hasPrefix("file:") {
                let path = String(spec.dropFirst(5))
                if path.isEmpty { return nil }
                self = .file(path)
            } else if spec.hasPrefix("/") {
                self = .file(spec)
            } else {
                return nil
            }
        }
    }
}

/// Line logger for a serial console: "HH:MM:SS L message", one write(2) per line, lines cut
/// at `lineLimit` bytes, control characters replaced by '?' (server-sent text must not drive
/// the terminal). The line is built in a fixed buffer allocated once.
///
/// Writes never block the agent's one thread: a stalled reader (a full journald, a serial
/// console held by flow control, a pipe nobody drains) makes lines drop, counted, and the next
/// line that gets through is preceded by one saying how many were lost. Nothing is queued.
public final class Logger {
    /// Longest line written, prefix and newline included.
    public static let defaultLineLimit = 160
    private static let prefixBytes = 11  // "08:41:07 I "

    public var minimumLevel: LogLevel
    public private(set) var target: LogTarget
    public let lineLimit: Int
    /// Lines written (after level filtering), for tests and statistics.
    public private(set) var linesWritten: Int = 0
    /// Lines lost because the output would have blocked (or failed), since start.
    public private(set) var linesDropped: Int = 0
    /// Dropped since the last line that got through: reported before the next one.
    private var unreported = 0
    /// The last write stopped inside a line: the next one starts on a fresh line.
    private var midLine = false
    private var fd: Int32 = 2
    private var fdIsSocket: Int32 = 0
    private var ownsFd = false
    private let buffer: UnsafeMutableBufferPointer<UInt8>

    /// The process-wide logger the runtime configures at start (single-threaded agent).
    nonisolated(unsafe) public static var shared = Logger(target: .stderr, level: .info)

    public init(target: LogTarget, level: LogLevel = .info, lineLimit: Int = Logger.defaultLineLimit) {
        self.target = target
        self.minimumLevel = level
        self.lineLimit = max(lineLimit, Logger.prefixBytes + 8)
        buffer = .allocate(capacity: self.lineLimit + 1)
        open()
    }

    deinit {
        close()
        buffer.deallocate()
    }

    /// Reopens the target (SIGHUP): a rotated log file is created afresh.
    public func reopen() {
        close()
        open()
    }

    /// Switches to another target.
    public func retarget(_ newTarget: LogTarget) {
        close()
        target = newTarget
        open()
    }

    private func open() {
        fdIsSocket = 0
        ownsFd = false
        switch target {
        case .stderr:
            fd = tether_log_open_stderr(&fdIsSocket)
            ownsFd = fd > 2
        case .none: fd = -1
        case .syslog:
            fd = -1
            tether_syslog_open("tether")
        case .file(let path):
            fd = tether_open(path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK, 0o640)
            if fd < 0 { fd = tether_log_open_stderr(&fdIsSocket) }  // keep logging somewhere rather than nowhere
            ownsFd = fd > 2
        }
    }

    private func close() {
        if target == .syslog { tether_syslog_close() }
        if ownsFd { _ = CShims.close(fd) }
        ownsFd = false
        fd = -1
    }

    public func isEnabled(_ level: LogLevel) -> Bool { level >= minimumLevel && target != .none }

    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
    public func error(_ message: @autoclosure () -> String) { log(.error, message()) }

    /// Writes one line at `level`.
    public func log(_ level: LogLevel, _ message: String) {
        guard isEnabled(level) else { return }
        if unreported > 0 && target != .syslog {
            // The count goes first; while even that cannot get out, this line is lost too.
            let n = format(.warning, String(unreported) + " log lines dropped: log output stalled", fresh: midLine)
            buffer[n] = UInt8(ascii: "\n")
            guard emit(n + 1) else { return drop() }
            unreported = 0
            midLine = false
        }
        let n = format(level, message, fresh: false)
        if target == .syslog {
            buffer[n] = 0
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: n + 1) {
                tether_syslog_write(level.syslogPriority, $0)
            }
            linesWritten += 1
            return
        }
        buffer[n] = UInt8(ascii: "\n")
        if emit(n + 1) { linesWritten += 1 } else { drop() }
    }

    private func drop() {
        linesDropped += 1
        unreported += 1
    }

    /// One write without blocking; false when not all of it went out (a partial line leaves the
    /// next write to start a fresh one).
    private func emit(_ count: Int) -> Bool {
        let n = tether_log_write(fd, fdIsSocket, buffer.baseAddress, count)
        if n == count { return true }
        if n > 0 { midLine = true }
        return false
    }

    /// Lays out "HH:MM:SS L message" (no prefix for syslog) in the buffer, cut to the line limit
    /// less the newline; `fresh` starts it with a newline (after a line cut short by a stall).
    /// Returns its length.
    private func format(_ level: LogLevel, _ message: String, fresh: Bool) -> Int {
        var n = 0
        if fresh { buffer[0] = UInt8(ascii: "\n"); n = 1 }
        if target != .syslog {
            let t = WallClock.now()
            n = put2(t.hour, at: n); buffer[n] = UInt8(ascii: ":"); n += 1
            n = put2(t.minute, at: n); buffer[n] = UInt8(ascii: ":"); n += 1
            n = put2(t.second, at: n); buffer[n] = UInt8(ascii: " "); n += 1
            buffer[n] = level.letter; buffer[n + 1] = UInt8(ascii: " "); n += 2
        }
        let room = lineLimit - 1  // newline
        var truncated = false
        for byte in message.utf8 {
            if n >= room { truncated = true; break }
            buffer[n] = (byte < 0x20 || byte == 0x7f) ? UInt8(ascii: "?") : byte
            n += 1
        }
        if truncated {
            // Keep room for the cut mark and never split a UTF-8 sequence: back up while the
            // first dropped byte is a continuation byte.
            n = room - 1
            while n > 0 && buffer[n] & 0xC0 == 0x80 { n -= 1 }
            buffer[n] = UInt8(ascii: "~")
            n += 1
        }
        return n
    }

    private func put2(_ v: Int, at i: Int) -> Int {
        buffer[i] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: (v / 10) % 10)
        buffer[i + 1] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: v % 10)
        return i + 2
    }
}

