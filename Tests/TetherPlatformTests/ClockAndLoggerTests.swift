import Foundation
import Testing
import CShims
@testable import TetherPlatform

@Suite struct ClockTests {
    @Test func monotonicAdvances() {
        let a = MonotonicClock.nowNanoseconds()
        usleep(20_000)
        let b = MonotonicClock.nowNanoseconds()
        #expect(b - a >= 20_000_000)
        #expect(b - a < 2_000_000_000)
        #expect(MonotonicClock.nowMilliseconds() >= b / 1_000_000)
    }

    @Test func wallClockMatchesFoundation() {
        let ours = WallClock.nowSeconds()
        let theirs = Int64(Date().timeIntervalSince1970)
        #expect(abs(ours - theirs) <= 1)
    }

    @Test func civilTime() {
        let epoch = CivilTime(unixSeconds: 0)
        #expect(epoch.dateString == "1970-01-01")
        #expect(epoch.timeString == "00:00:00")
        let t = CivilTime(unixSeconds: 1_764_319_267)  // 2025-11-28 08:41:07 UTC
        #expect(t.dateString == "2025-11-28")
        #expect(t.timeString == "08:41:07")
    }

    @Test func clockSanity() {
        let build: Int64 = 1_764_319_267
        #expect(WallClock.sanityWarning(now: build + 10, notBefore: build) == nil)
        #expect(WallClock.sanityWarning(now: 5, notBefore: build)
            == "clock is 1970-01-01, before build date 2025-11-28: set the time (NTP)")
    }
}

@Suite struct LoggerTests {
    /// A reader that stops draining (a full pipe, as a stalled journald or a serial console held
    /// by flow control makes it) must not block the agent's thread: lines drop, counted, and
    /// the first line that gets through again is preceded by the count.
    @Test func stalledOutputDropsAndCounts() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        var chunk = [UInt8](repeating: 0x2e, count: 4096)
        var filled = 0
        while true {
            let n = write(fds[1], &chunk, chunk.count)
            if n <= 0 { break }
            filled += n
        }
        #expect(filled >= 4096)
        let log = Logger(target: .file("/proc/self/fd/\(fds[1])"))
        for i in 0..<50 { log.info("line \(i)") }
        #expect(log.linesDropped == 50)
        #expect(log.linesWritten == 0)
        var drained = 0
        while true {
            let n = read(fds[0], &chunk, chunk.count)
            if n <= 0 { break }
            drained += n
        }
        #expect(drained == filled)
        log.info("after")
        var got = [UInt8](repeating: 0, count: 512)
        let n = read(fds[0], &got, got.count)
        #expect(n > 0)
        let text = String(decoding: got.prefix(max(n, 0)), as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first?.hasSuffix(" W 50 log lines dropped: log output stalled") == true)
        #expect(lines.last?.hasSuffix(" I after") == true)
        #expect(log.linesWritten == 1 && log.linesDropped == 50)
        log.info("again")          // the count is reported once
        let m = read(fds[0], &got, got.count)
        #expect(String(decoding: got.prefix(max(m, 0)), as: UTF8.self).hasSuffix(" I again\n"))
    }

    @Test func fileTargetFormatAndLevels() {
        let dir = makeTempDir("log")
        let path = dir + "/t.log"
        let log = Logger(target: .file(path), level: .info)
        log.debug("hidden")
        log.info("hello")
        log.error("bad\u{1b}[31mthing\n")
        let lines = readText(path).split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines[0].count == 16)
        #expect(lines[0].hasSuffix(" I hello"))
        #expect(lines[0].dropFirst(2).first == ":")
        #expect(lines[1].hasSuffix(" E bad?[31mthing?"))
        #expect(log.linesWritten == 2)
    }

    @Test func longLinesAreCut() {
        let dir = makeTempDir("log")
        let path = dir + "/t.log"
        let log = Logger(target: .file(path), level: .debug, lineLimit: 40)
        log.warning(String(repeating: "x", count: 100))
        log.warning(String(repeating: "é", count: 100))
        let text = readText(path)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines[0].utf8.count == 39)
        #expect(lines[0].hasSuffix("x~"))
        #expect(lines[1].utf8.count <= 39)
        #expect(lines[1].hasSuffix("é~"))
    }

    @Test func reopenFollowsRotation() {
        let dir = makeTempDir("log")
        let path = dir + "/t.log"
        let log = Logger(target: .file(path))
        log.info("one")
        try! FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        log.info("two")  // still the old file: the fd follows the rename
        log.reopen()
        log.info("three")
        #expect(readText(path + ".1").contains("two"))
        #expect(readText(path).hasSuffix(" I three\n"))
        #expect(!readText(path).contains("two"))
    }

    @Test func targetSpecs() {
        #expect(LogTarget(spec: "stderr") == .stderr)
        #expect(LogTarget(spec: "syslog") == .syslog)
        #expect(LogTarget(spec: "/var/log/t") == .file("/var/log/t"))
        #expect(LogTarget(spec: "file:/x") == .file("/x"))
        #expect(LogTarget(spec: "file:") == nil)
        #expect(LogTarget(spec: "loud") == nil)
        #expect(LogLevel(name: "warn") == .warning)
        #expect(LogLevel(name: "x") == nil)
    }

    @Test func syslogTargetWritesNothingToFiles() {
        let log = Logger(target: .syslog)
        log.info("tether test line via syslog")
        #expect(log.linesWritten == 1)
    }
}
