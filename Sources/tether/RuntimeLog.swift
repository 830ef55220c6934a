import CShims
import TetherAgent
import TetherPlatform
import TetherSSH
import TetherWire

/// Maps the configuration's log settings onto the platform logger.
enum RuntimeLog {
    static func target(_ t: TetherAgent.LogTarget) -> TetherPlatform.LogTarget {
        switch t {
        case .stderr: return .stderr
        case .syslog: return .syslog
        }
    }

    static func level(_ l: TetherAgent.LogLevel) -> TetherPlatform.LogLevel {
        switch l {
        case .panic, .fatal, .error: return .error
        case .warn: return .warning
        case .info: return .info
        case .debug, .trace: return .debug
        }
    }
}
