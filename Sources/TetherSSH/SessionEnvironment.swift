/// The environment of a session's program, built from scratch as the Go agent does
/// (PROTOCOL.md 7.5): no PATH (the login shell's profile sets it).
struct SessionEnvironment {
    var term: String?
    var account: UserAccount
    var shell: String
    var deviceName: String
    var localeFiles: [String]
    var clientVariables: [(String, String)]
    /// SSH_AUTH_SOCK when agent forwarding is on.
    var agentSocket: String? = nil

    /// LANG / LC_* only, no NUL or '=' in the name, bounded size.
    static func acceptsClientVariable(name: String, value: String) -> Bool {
        guard name == "LANG" || (name.hasPrefix("LC_") && name.utf8.count > 3) else { return false }
        for b in name.utf8 where !(b == 95 || (b >= 65 && b <= 90) || (b >= 48 && b <= 57)) {
            return false
        }
        if value.utf8.contains(0) || value.utf8.count > SSHLimits.clientEnvValueBytes { return false }
        return true
    }

    /// LANG/LC_* assignments of the first locale file that has any.
    static func systemLocale(files: [String]) -> [(String, String)] {
        for path in files {
            guard let lines = FileBytes.lines(path) else { continue }
            var found: [(String, String)] = []
            for raw in lines {
                var line = raw.drop { $0 == " " || $0 == "\t" }
                if line.hasPrefix("export ") { line = line.dropFirst(7) }
                guard let eq = line.firstIndex(of: "=") else { continue }
                let name = String(line[line.startIndex..<eq])
                var value = line[line.index(after: eq)...]
                if value.count >= 2, let f = value.first, f == "\"" || f == "'", value.last == f {
                    value = value.dropFirst().dropLast()
                }
                if acceptsClientVariable(name: name, value: String(value)) {
                    found.append((name, String(value)))
                }
            }
            if !found.isEmpty { return found }
        }
        return []
    }

    /// NAME=value strings for execve.
    func entries() -> [String] {
        var vars: [(String, String)] = [
            ("TERM", term ?? "xterm"),
            ("HOME", account.home),
            ("SHELL", shell),
            ("USER", account.name),
            ("LOGNAME", account.name),
            ("SHELLHUB_HOST", deviceName),
            ("SSH_CLIENT", "127.0.0.1 0 0"),
        ]
        var locale = SessionEnvironment.systemLocale(files: localeFiles)
        if !locale.contains(where: { $0.0 == "LANG" }) { locale.insert(("LANG", "C.UTF-8"), at: 0) }
        for (name, value) in locale + clientVariables {
            if let i = vars.firstIndex(where: { $0.0 == name }) {
                vars[i].1 = value
            } else {
                vars.append((name, value))
            }
        }
        if let agentSocket { vars.append(("SSH_AUTH_SOCK", agentSocket)) }
        return vars.map { String($0.0) + "=" + String($0.1) }
    }
}
