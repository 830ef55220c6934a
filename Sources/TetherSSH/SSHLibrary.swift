import CLibSSH

/// Facts about the libssh the agent was linked with.
public enum SSHLibrary {
    /// libssh's own version string, e.g. "0.10.6/openssl" (host) or "0.10.6/mbedtls" (boards).
    public static var version: String {
        guard let p = ssh_version(0) else { return "unknown" }
        return String(cString: p)
    }

    /// True when a server-side bind object can be created (libssh built WITH_SERVER).
    public static func canCreateServerBind() -> Bool {
        guard let bind = ssh_bind_new() else { return false }
        ssh_bind_free(bind)
        return true
    }
}
