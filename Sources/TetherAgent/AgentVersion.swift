/// Tether's own release version. It is reported to ShellHub as `info.version`, which the
/// server parses as semver: below 0.6.0 it refuses public-key logins, below 0.9.3 it force-closes
/// exec channels (PROTOCOL.md section 10). So it must stay a plain semver >= 0.9.3.
public enum AgentVersion {
    public static let major = 0
    public static let minor = 10
    public static let patch = 0
    public static var string: String { String(major) + "." + String(minor) + "." + String(patch) }
}
