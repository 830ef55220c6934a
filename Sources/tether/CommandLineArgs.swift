import CShims

/// argv as Swift strings. Embedded Swift has no `CommandLine`, so the C shim reads it.
enum CommandLineArgs {
    static func load() -> [String] {
        var args: [String] = []
        let n = tether_argc()
        var i: Int32 = 0
        while i < n {
            if let p = tether_argv(i) { args.append(String(cString: p)) }
            i += 1
        }
        return args
    }
}

/// Console output for commands (not logging): whole lines, written with one write(2).
enum Console {
    static func out(_ line: String) { write(1, line) }
    static func err(_ line: String) { write(2, line) }

    private static func write(_ fd: Int32, _ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(10)
        _ = bytes.withUnsafeBytes { tether_write_all(fd, $0.baseAddress, $0.count) }
    }
}
