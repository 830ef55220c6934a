import CShims
import TetherAgent
import TetherPlatform

/// Where the runtime's configuration comes from: the process environment, then an optional
/// file (`TETHER_CONFIG`, else `/etc/tether.conf`, else the Go agent's
/// `/etc/shellhub-agent.env`, which newer Go agents also read, PROTOCOL.md 11), then the
/// board's compiled-in defaults (board-configs/).
enum RuntimeConfig {
    static let defaultFiles = ["/etc/tether.conf", "/etc/shellhub-agent.env"]
    static let maxFileBytes = 64 * 1024

    static func environment(_ name: String) -> String? {
        guard let p = tether_getenv(name) else { return nil }
        return String(cString: p)
    }

    static var boardDefaults: BoardDefaults {
        BoardDefaults(
            sessionSlots: Int(tether_default_session_slots()),
            privateKeyPath: BuildInfo.board == "host" ? nil : String(cString: tether_default_key_path()),
            logTarget: String(cString: tether_default_log_target()) == "syslog" ? .syslog : .stderr,
            middleboxIdleSeconds: Int(tether_default_middlebox_idle()),
            tlsMaxFragment: 0)
    }

    /// The config file in use, if any: an explicit `TETHER_CONFIG` must exist.
    static func configFile() -> Result<(path: String, text: String)?, ConfigError> {
        if let explicit = environment("TETHER_CONFIG"), !explicit.isEmpty {
            guard let text = readText(explicit) else {
                return .failure(.invalid(variable: "TETHER_CONFIG", value: explicit, reason: "cannot read the file"))
            }
            return .success((explicit, text))
        }
        for path in defaultFiles {
            if let text = readText(path) { return .success((path, text)) }
        }
        return .success(nil)
    }

    private static func readText(_ path: String) -> String? {
        guard let bytes = try? Files.read(path, limit: maxFileBytes) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The validated configuration, or the one error that stops the agent.
    static func load() -> Result<(config: AgentConfig, file: String?), ConfigError> {
        let file: (path: String, text: String)?
        switch configFile() {
        case .failure(let e): return .failure(e)
        case .success(let f): file = f
        }
        var parsed = EnvFile()
        if let file {
            do { parsed = try EnvFile(parsing: file.text) } catch { return .failure(error) }
        }
        do {
            let config = try AgentConfig.load(environment: environment, file: parsed, defaults: boardDefaults)
            return .success((config, file?.path))
        } catch {
            return .failure(error)
        }
    }
}
