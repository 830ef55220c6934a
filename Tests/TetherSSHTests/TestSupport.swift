import Foundation

/// Host-only helpers for the TetherSSH tests: temp files and running openssl/ssh-keygen.
enum TestSupport {
    static func tempDir() -> String {
        let path = NSTemporaryDirectory() + "tether-ssh-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func write(_ path: String, _ text: String) {
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Runs a program; returns (status, stdout).
    @discardableResult
    static func run(_ args: [String], stdin: Data? = nil) -> (Int32, Data) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        let inPipe = Pipe()
        if stdin != nil { p.standardInput = inPipe }
        try! p.run()
        if let stdin {
            inPipe.fileHandleForWriting.write(stdin)
            try? inPipe.fileHandleForWriting.close()
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, data)
    }

    static func text(_ args: [String]) -> String {
        let (_, d) = run(args)
        return String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
