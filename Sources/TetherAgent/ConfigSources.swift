import TetherWire

/// A value found for a setting, with the exact name it was found under (for messages).
struct ConfigValue {
    var name: String
    var value: String
}

/// The environment and the config file, searched in the documented order.
struct ConfigSources {
    let environment: (String) -> String?
    let file: EnvFile

    private func nonEmpty(_ v: String?) -> String? {
        guard let v, !v.isEmpty else { return nil }
        return v
    }

    /// A Go-agent setting: `SHELLHUB_<name>` then `<name>`, environment before file.
    func shellhub(_ name: String) -> ConfigValue? {
        let prefixed = "SHELLHUB_" + name
        if let v = nonEmpty(environment(prefixed)) { return ConfigValue(name: prefixed, value: v) }
        if let v = nonEmpty(environment(name)) { return ConfigValue(name: name, value: v) }
        if let v = nonEmpty(file.value(prefixed)) { return ConfigValue(name: prefixed, value: v) }
        if let v = nonEmpty(file.value(name)) { return ConfigValue(name: name, value: v) }
        return nil
    }

    /// A setting read under one exact name, environment before file.
    func exact(_ name: String) -> ConfigValue? {
        if let v = nonEmpty(environment(name)) { return ConfigValue(name: name, value: v) }
        if let v = nonEmpty(file.value(name)) { return ConfigValue(name: name, value: v) }
        return nil
    }

    /// An integer Tether setting within `range` (or exactly 0 when `allowZero`).
    func integer(
        _ name: String, default value: Int, range: ClosedRange<Int>, allowZero: Bool = false
    ) throws(ConfigError) -> Int {
        guard let v = exact(name) else { return value }
        guard let n = GoSyntax.parseInt(v.value) else {
            throw .invalid(variable: v.name, value: v.value, reason: "not an integer")
        }
        if allowZero && n == 0 { return 0 }
        guard n >= Int64(range.lowerBound), n <= Int64(range.upperBound) else {
            let zero = allowZero ? "0 or " : ""
            throw .invalid(
                variable: v.name, value: v.value,
                reason: "must be " + String(zero) + String(range.lowerBound) + ".." + String(range.upperBound))
        }
        return Int(n)
    }
}

// MARK: The settings, each read and validated

extension ConfigSources {
    /// SERVER_ADDRESS: required absolute http(s) URL.
    func serverAddress() throws(ConfigError) -> HTTPServerURL {
        guard let addr = shellhub("SERVER_ADDRESS") else {
            throw .missing(variable: "SHELLHUB_SERVER_ADDRESS")
        }
        return try ProxyRules.url(addr)
    }

    /// PRIVATE_KEY: required (unless the board names one), and already filepath.Clean-ed.
    func privateKeyPath(boardDefault: String?) throws(ConfigError) -> String {
        if let key = shellhub("PRIVATE_KEY") {
            let clean = GoSyntax.cleanPath(key.value)
            guard clean == key.value else {
                throw .invalid(variable: key.name, value: key.value, reason: "not a clean path, use " + clean)
            }
            return key.value
        }
        guard let boardDefault else { throw .missing(variable: "SHELLHUB_PRIVATE_KEY") }
        return boardDefault
    }

    func transportVersion() throws(ConfigError) -> TransportVersion {
        guard let v = shellhub("TRANSPORT_VERSION") else { return .v2 }
        guard let n = GoSyntax.parseInt(v.value), let t = TransportVersion(rawValue: Int(n)) else {
            throw .invalid(variable: v.name, value: v.value, reason: "must be 1 or 2")
        }
        return t
    }

    /// TENANT_ID, a UUID for v2. Empty is unset: no tenant means pairing (PROTOCOL.md 4.6).
    func tenantID(transport: TransportVersion) throws(ConfigError) -> ConfigValue? {
        let tenant = shellhub("TENANT_ID").flatMap { $0.value.isEmpty ? nil : $0 }
        if let tenant, transport == .v2, !ConfigText.isUUID(tenant.value) {
            throw .invalid(variable: tenant.name, value: tenant.value, reason: "must be a UUID")
        }
        return tenant
    }

    func maxRetryConnectionTimeout() throws(ConfigError) -> Int {
        guard let v = shellhub("MAX_RETRY_CONNECTION_TIMEOUT") else {
            return ConfigLimits.defaultMaxRetryConnectionTimeout
        }
        let range = ConfigLimits.maxRetryConnectionTimeoutRange
        guard let n = GoSyntax.parseInt(v.value) else {
            throw .invalid(variable: v.name, value: v.value, reason: "not an integer")
        }
        guard n >= Int64(range.lowerBound), n <= Int64(range.upperBound) else {
            throw .invalid(variable: v.name, value: v.value, reason: "must be 10..120")
        }
        return Int(n)
    }

    /// KEEPALIVE_INTERVAL in seconds, nil when unset.
    func keepaliveInterval() throws(ConfigError) -> UInt32? {
        guard let v = shellhub("KEEPALIVE_INTERVAL") else { return nil }
        guard let n = GoSyntax.parseUInt(v.value), n <= UInt64(UInt32.max) else {
            throw .invalid(variable: v.name, value: v.value, reason: "not a uint32 of seconds")
        }
        guard n > 0 else {
            throw .invalid(variable: v.name, value: v.value, reason: "must be > 0 seconds")
        }
        return UInt32(n)
    }

    func preferredHostname() throws(ConfigError) -> ConfigValue? {
        let hostname = shellhub("PREFERRED_HOSTNAME")
        if let h = hostname, !ConfigText.isValidHostname(h.value) {
            throw .invalid(
                variable: h.name, value: h.value, reason: "need 1-64 of A-Z a-z 0-9 . _ -")
        }
        return hostname
    }

    func preferredIdentity() throws(ConfigError) -> ConfigValue? {
        let identity = shellhub("PREFERRED_IDENTITY")
        if let i = identity, i.value.utf8.count > ConfigLimits.maxIdentityLength {
            throw .invalid(variable: i.name, value: i.value, reason: "longer than 64 bytes")
        }
        return identity
    }

    /// LOG_LEVEL (info when unset); `SHELLHUB_ENV=development` means trace whatever it says.
    func logLevel() throws(ConfigError) -> LogLevel {
        var logLevel = LogLevel.info
        if let v = shellhub("LOG_LEVEL") {
            guard let level = LogLevel(name: v.value) else {
                throw .invalid(variable: v.name, value: v.value, reason: "not a log level (info, debug...)")
            }
            logLevel = level
        }
        if exact("SHELLHUB_ENV")?.value == "development" { logLevel = .trace }
        return logLevel
    }

    func tlsMaxFragment(default value: Int) throws(ConfigError) -> Int {
        guard let v = exact("TETHER_TLS_MAX_FRAGMENT") else { return value }
        guard let n = GoSyntax.parseInt(v.value),
            ConfigLimits.tlsMaxFragmentChoices.contains(Int(n))
        else {
            throw .invalid(variable: v.name, value: v.value, reason: "must be 0, 512, 1024, 2048 or 4096")
        }
        return Int(n)
    }

    func logTarget(default value: LogTarget) throws(ConfigError) -> LogTarget {
        guard let v = exact("TETHER_LOG") else { return value }
        switch ConfigText.lowercased(v.value) {
        case "stderr": return .stderr
        case "syslog": return .syslog
        default: throw .invalid(variable: v.name, value: v.value, reason: "must be stderr or syslog")
        }
    }

    /// Per-session SSH keepalives: on when KEEPALIVE_INTERVAL is set explicitly (whoever
    /// sets it wants them: ShellHub's "keepalive reaches the client"), off when it is unset
    /// (quiet); TETHER_SSH_KEEPALIVE, when set, decides either way.
    func sshSessionKeepalive(keepaliveIntervalSet: Bool) throws(ConfigError) -> Bool {
        guard let v = exact("TETHER_SSH_KEEPALIVE") else { return keepaliveIntervalSet }
        guard let b = ConfigText.parseBool(v.value) else {
            throw .invalid(variable: v.name, value: v.value, reason: "must be true or false")
        }
        return b
    }
}
