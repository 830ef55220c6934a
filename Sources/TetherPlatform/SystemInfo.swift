import CShims

/// The `info` facts the agent reports (PROTOCOL.md 2.5) that come from the system:
/// /etc/os-release ID and PRETTY_NAME, and the architecture in Go's GOARCH spelling.
public struct SystemInfo: Equatable, Sendable {
    public var id: String
    public var prettyName: String
    public var arch: String
    /// Always "native" for Tether (a plain binary).
    public var platform: String = "native"

    public init(id: String, prettyName: String, arch: String) {
        self.id = id
        self.prettyName = prettyName
        self.arch = arch
    }

    public static let osReleasePaths = ["/etc/os-release", "/usr/lib/os-release"]
    /// os-release files are a few hundred bytes; anything bigger is not one.
    static let maxOSReleaseBytes = 16_384

    /// Reads the running system. Missing os-release gives empty id and name, as in Go.
    public static func current(osReleasePaths: [String] = SystemInfo.osReleasePaths) -> SystemInfo {
        var fields: [(String, String)] = []
        for p in osReleasePaths {
            if let bytes = try? Files.read(p, limit: SystemInfo.maxOSReleaseBytes) {
                fields = parseOSRelease(String(decoding: bytes, as: UTF8.self))
                break
            }
        }
        var id = "", pretty = ""
        for (k, v) in fields {
            if k == "ID" { id = v }
            if k == "PRETTY_NAME" { pretty = v }
        }
        return SystemInfo(id: id, prettyName: pretty, arch: goArch(machine: unameMachine()))
    }

    /// uname(2) machine, e.g. "aarch64".
    public static func unameMachine() -> String {
        var buf = [CChar](repeating: 0, count: 65)
        if tether_uname_machine(&buf, 65) != 0 { return "" }
        return String(decodingCString: buf)
    }

    /// Maps `uname -m` to GOARCH (what the server and UI expect).
    public static func goArch(machine: String) -> String {
        switch machine {
        case "aarch64", "arm64", "aarch64_be": return "arm64"
        case "x86_64", "amd64": return "amd64"
        case "i386", "i486", "i586", "i686": return "386"
        case "mips": return "mips"
        case "mipsel": return "mipsle"
        case "mips64": return "mips64"
        case "mips64el": return "mips64le"
        case "riscv64": return "riscv64"
        case "ppc64le": return "ppc64le"
        default:
            return machine.hasPrefix("arm") ? "arm" : machine
        }
    }

    /// KEY=value lines of an os-release file, values shell-word unquoted; comments and
    /// malformed lines skipped.
    public static func parseOSRelease(_ text: String) -> [(String, String)] {
        var out: [(String, String)] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let l = line.drop { $0 == " " || $0 == "\t" }
            if l.isEmpty || l.hasPrefix("#") { continue }
            guard let eq = l.firstIndex(of: "=") else { continue }
            let key = String(l[l.startIndex..<eq])
            if key.isEmpty || key.contains(" ") { continue }
            guard let value = unquoteShellWord(Array(l[l.index(after: eq)...].utf8)) else { continue }
            out.append((key, value))
        }
        return out
    }

    /// POSIX shell word unquoting for one word: 'single' literal, "double" with \\ \" \$ \`
    /// escapes, bare text with backslash escapes; concatenated segments allowed. Nil on an
    /// unterminated quote. Trailing whitespace ends the word.
    public static func unquoteShellWord(_ w: [UInt8]) -> String? {
        var out: [UInt8] = []
        var i = 0
        while i < w.count {
            let c = w[i]
            if c == UInt8(ascii: "'") {
                guard let end = w[(i + 1)...].firstIndex(of: UInt8(ascii: "'")) else { return nil }
                out += w[(i + 1)..<end]
                i = end + 1
            } else if c == UInt8(ascii: "\"") {
                i += 1
                var closed = false
                while i < w.count {
                    let d = w[i]
                    if d == UInt8(ascii: "\"") { closed = true; i += 1; break }
                    if d == UInt8(ascii: "\\"), i + 1 < w.count,
                       [UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "$"), UInt8(ascii: "`")].contains(w[i + 1]) {
                        out.append(w[i + 1])
                        i += 2
                        continue
                    }
                    out.append(d)
                    i += 1
                }
                if !closed { return nil }
            } else if c == UInt8(ascii: "\\"), i + 1 < w.count {
                out.append(w[i + 1])
                i += 2
            } else if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") {
                break
            } else {
                out.append(c)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
