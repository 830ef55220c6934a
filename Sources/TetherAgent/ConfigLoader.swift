import TetherWire

extension AgentConfig {
    /// Builds and validates the configuration.
    ///
    /// - `environment`: looks a variable up in the process environment.
    /// - `file`: the parsed config file (empty if there is none).
    /// - `defaults`: what the board supplies for unset Tether settings.
    ///
    /// Each Go-agent setting is looked up as `SHELLHUB_<NAME>` then `<NAME>` in the
    /// environment, then the same two in the file: the environment wins over the file, the
    /// prefixed name over the bare one. An empty value counts as unset. Everything else is
    /// looked up under its exact name. The first refused value is thrown.
    public static func load(
        environment: @escaping (String) -> String?, file: EnvFile = EnvFile(),
        defaults: BoardDefaults = .generic
    ) throws(ConfigError) -> AgentConfig {
        let src = ConfigSources(environment: environment, file: file)

        // SERVER_ADDRESS: required absolute http(s) URL.
        guard let addr = src.shellhub("SERVER_ADDRESS") else {
            throw .missing(variable: "SHELLHUB_SERVER_ADDRESS")
        }
        let server = try ProxyRules.url(addr)

        // PRIVATE_KEY: required (unless the board names one), and already filepath.Clean-ed.
        let keyPath: String
        if let key = src.shellhub("PRIVATE_KEY") {
            let clean = GoSyntax.cleanPath(key.value)
            guard clean == key.value else {
                throw .invalid(variable: key.name, value: key.value, reason: "not a clean path, use \(clean)")
            }
            keyPath = key.value
        } else if let boardKey = defaults.privateKeyPath {
            keyPath = boardKey
        } else {
            throw .missing(variable: "SHELLHUB_PRIVATE_KEY")
        }

        var transport = TransportVersion.v2
        if let v = src.shellhub("TRANSPORT_VERSION") {
            guard let n = GoSyntax.parseInt(v.value), let t = TransportVersion(rawValue: Int(n)) else {
                throw .invalid(variable: v.name, value: v.value, reason: "must be 1 or 2")
            }
            transport = t
        }

        // Empty is unset: no tenant means pairing (PROTOCOL.md 4.6).
        let tenant = src.shellhub("TENANT_ID").flatMap { $0.value.isEmpty ? nil : $0 }
        if let tenant, transport == .v2, !ConfigText.isUUID(tenant.value) {
            throw .invalid(variable: tenant.name, value: tenant.value, reason: "must be a UUID")
        }

        var maxRetry = ConfigLimits.defaultMaxRetryConnectionTimeout
        if let v = src.shellhub("MAX_RETRY_CONNECTION_TIMEOUT") {
            let range = ConfigLimits.maxRetryConnectionTimeoutRange
            guard let n = GoSyntax.parseInt(v.value) else {
                throw .invalid(variable: v.name, value: v.value, reason: "not an integer")
            }
            guard n >= Int64(range.lowerBound), n <= Int64(range.upperBound) else {
                throw .invalid(variable: v.name, value: v.value, reason: "must be 10..120")
            }
            maxRetry = Int(n)
        }

        var keepalive = ConfigLimits.defaultSessionKeepaliveSeconds
        let keepaliveSetting = src.shellhub("KEEPALIVE_INTERVAL")
        if let v = keepaliveSetting {
            guard let n = GoSyntax.parseUInt(v.value), n <= UInt64(UInt32.max) else {
                throw .invalid(variable: v.name, value: v.value, reason: "not a uint32 of seconds")
            }
            guard n > 0 else {
                throw .invalid(variable: v.name, value: v.value, reason: "must be > 0 seconds")
            }
            keepalive = UInt32(n)
        }

        let hostname = src.shellhub("PREFERRED_HOSTNAME")
        if let h = hostname, !ConfigText.isValidHostname(h.value) {
            throw .invalid(
                variable: h.name, value: h.value, reason: "need 1-64 of A-Z a-z 0-9 . _ -")
        }
        let identity = src.shellhub("PREFERRED_IDENTITY")
        if let i = identity, i.value.utf8.count > ConfigLimits.maxIdentityLength {
            throw .invalid(variable: i.name, value: i.value, reason: "longer than 64 bytes")
        }

        // The misspelt SIMPLE_USER_PASSWORD is the Go agent's fallback for SINGLE_USER_PASSWORD.
        let password = src.shellhub("SINGLE_USER_PASSWORD") ?? src.shellhub("SIMPLE_USER_PASSWORD")

        let permitEmpty = src.shellhub("PERMIT_EMPTY_PASSWORDS").map {
            ConfigText.lowercased($0.value) == "true"
        } ?? false

        var logLevel = LogLevel.info
        if let v = src.shellhub("LOG_LEVEL") {
            guard let level = LogLevel(name: v.value) else {
                throw .invalid(variable: v.name, value: v.value, reason: "not a log level (info, debug...)")
            }
            logLevel = level
        }
        if src.exact("SHELLHUB_ENV")?.value == "development" { logLevel = .trace }

        // Proxy for the server's scheme, unless NO_PROXY covers the host.
        var proxy: HTTPServerURL? = nil
        var proxyCredentials: String? = nil
        let proxyVar = server.isTLS
            ? (src.exact("HTTPS_PROXY") ?? src.exact("https_proxy"))
            : (src.exact("HTTP_PROXY") ?? src.exact("http_proxy"))
        if let p = proxyVar {
            let noProxy = src.exact("NO_PROXY") ?? src.exact("no_proxy")
            if !ProxyRules.bypasses(host: server.host, noProxy: noProxy?.value ?? "") {
                (proxy, proxyCredentials) = try ProxyRules.parse(p)
            }
        }

        // Tether settings.
        let slots = try src.integer(
            "TETHER_SESSION_SLOTS", default: defaults.sessionSlots,
            range: 1...ConfigLimits.maxSessionSlots)
        let idle = try src.integer(
            "TETHER_MIDDLEBOX_IDLE", default: defaults.middleboxIdleSeconds,
            range: ConfigLimits.middleboxIdleRange)
        let reauth = try src.integer(
            "TETHER_REAUTH_INTERVAL", default: ConfigLimits.defaultReauthIntervalSeconds,
            range: ConfigLimits.reauthIntervalRange, allowZero: true)
        let tcpKeepalive = try src.integer(
            "TETHER_TCP_KEEPALIVE", default: 0, range: ConfigLimits.tcpKeepaliveRange,
            allowZero: true)
        let loginGrace = try src.integer(
            "TETHER_LOGIN_GRACE", default: ConfigLimits.defaultLoginGraceSeconds,
            range: ConfigLimits.loginGraceRange, allowZero: true)
        var fragment = defaults.tlsMaxFragment
        if let v = src.exact("TETHER_TLS_MAX_FRAGMENT") {
            guard let n = GoSyntax.parseInt(v.value),
                ConfigLimits.tlsMaxFragmentChoices.contains(Int(n))
            else {
                throw .invalid(variable: v.name, value: v.value, reason: "must be 0, 512, 1024, 2048 or 4096")
            }
            fragment = Int(n)
        }
        var logTarget = defaults.logTarget
        if let v = src.exact("TETHER_LOG") {
            switch ConfigText.lowercased(v.value) {
            case "stderr": logTarget = .stderr
            case "syslog": logTarget = .syslog
            default: throw .invalid(variable: v.name, value: v.value, reason: "must be stderr or syslog")
            }
        }
        // Per-session SSH keepalives: on when KEEPALIVE_INTERVAL is set explicitly (whoever
        // sets it wants them: ShellHub's "keepalive reaches the client"), off when it is unset
        // (quiet); TETHER_SSH_KEEPALIVE, when set, decides either way.
        var sshKeepalive = keepaliveSetting != nil
        if let v = src.exact("TETHER_SSH_KEEPALIVE") {
            guard let b = ConfigText.parseBool(v.value) else {
                throw .invalid(variable: v.name, value: v.value, reason: "must be true or false")
            }
            sshKeepalive = b
        }

        var config = AgentConfig(
            server: server, privateKeyPath: keyPath, tenantID: tenant?.value ?? "",
            pairingCode: src.shellhub("PAIRING_CODE")?.value ?? "",
            provisioningKey: (src.shellhub("PROVISIONING_KEY") ?? src.shellhub("INSTALL_KEY"))?.value ?? "",
            sessionKeepaliveSeconds: keepalive,
            preferredHostname: hostname?.value ?? "", preferredIdentity: identity?.value ?? "",
            singleUserPassword: password?.value ?? "", permitEmptyPasswords: permitEmpty,
            maxRetryConnectionTimeout: maxRetry, transport: transport, logLevel: logLevel,
            sslCertFile: src.exact("SSL_CERT_FILE")?.value, sslCertDir: src.exact("SSL_CERT_DIR")?.value,
            proxy: proxy, sessionSlots: slots, middleboxIdleSeconds: idle,
            reauthIntervalSeconds: reauth, logTarget: logTarget, tlsMaxFragment: fragment,
            tcpKeepaliveSeconds: tcpKeepalive, sshSessionKeepalive: sshKeepalive)
        config.loginGraceSeconds = loginGrace
        config.proxyCredentials = proxyCredentials
        return config
    }
}

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
                reason: "must be \(zero)\(range.lowerBound)..\(range.upperBound)")
        }
        return Int(n)
    }
}
