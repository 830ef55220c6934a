import CShims

/// Log sink of the SSH service. The runtime may replace `sink`; the default writes one line per
/// write(2) to stderr. Lines never contain secrets (passwords, signatures).
public enum SSHLog {
    nonisolated(unsafe) public static var sink: ((String) -> Void)? = nil
    nonisolated(unsafe) public static var verbose = false

    static func info(_ line: String) {
        if let sink { sink(line); return }
        var bytes = Array(("ssh: " + String(line)).utf8)
        bytes.append(10)
        _ = bytes.withUnsafeBytes { tether_write_all(2, $0.baseAddress, $0.count) }
    }

    static func debug(_ line: String) {
        if verbose { info(line) }
    }
}
