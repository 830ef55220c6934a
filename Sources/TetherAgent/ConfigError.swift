/// Why the configuration was refused. Exactly one is reported, and `message` is the single line
/// the agent prints before exiting, naming the variable as the user wrote it.
public enum ConfigError: Error, Equatable, Sendable {
    /// A required variable is unset in the environment and in the config file.
    case missing(variable: String)
    /// A variable is set to a value that is refused; `value` is shown (secrets are masked).
    case invalid(variable: String, value: String, reason: String)
    /// The config file has a line that is not `NAME=VALUE`.
    case fileSyntax(line: Int, reason: String)
    /// Single-user password and the process's privileges disagree (PROTOCOL.md 7.3).
    case userMode(reason: String)

    /// Longest value quoted back in a message, so the line fits a serial console.
    static let maxQuotedValue = 24

    public var message: String {
        switch self {
        case .missing(let variable):
            return String(variable) + ": required, not set"
        case .invalid(let variable, let value, let reason):
            var shown = value
            if shown.utf8.count > Self.maxQuotedValue {
                shown = String(decoding: Array(shown.utf8.prefix(Self.maxQuotedValue)), as: UTF8.self) + "..."
            }
            return String(variable) + "=" + String(shown) + ": " + String(reason)
        case .fileSyntax(let line, let reason):
            return "config file line " + String(line) + ": " + String(reason)
        case .userMode(let reason):
            return reason
        }
    }
}
