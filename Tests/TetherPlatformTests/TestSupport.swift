import Foundation
import CShims

/// A fresh temporary directory for one test.
func makeTempDir(_ tag: String) -> String {
    let path = NSTemporaryDirectory() + "tether-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func readText(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

/// A connected AF_UNIX stream pair, both non-blocking.
func makeSocketPair() -> (Int32, Int32) {
    var sv: [Int32] = [-1, -1]
    let rc = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &sv)
    precondition(rc == 0)
    _ = tether_set_nonblocking(sv[0])
    _ = tether_set_nonblocking(sv[1])
    return (sv[0], sv[1])
}

/// Everything readable on a non-blocking `fd` now, and whether it reached EOF.
func drain(_ fd: Int32) -> (bytes: [UInt8], eof: Bool) {
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buf, buf.count)
        if n > 0 { out += buf[0..<n]; continue }
        return (out, n == 0)
    }
}

/// `count` bytes that are not all alike, so that order shows.
func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) } }

/// Runs a command and returns (status, stdout+stderr).
@discardableResult
func shell(_ command: String, cwd: String? = nil) -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try! p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
