import CShims
import TetherAgent
import TetherPlatform
import TetherSSH
import TetherWire

/// `tether run` (and `tether` with no command, like the Go agent): load and check the
/// configuration, load or create the device key, then serve until SIGTERM/SIGINT.
/// Exit status: 0 after a signal, 2 for a configuration error, 3 when the device was removed.
func agentCommand(_ args: [String]) -> Int {
    guard let loaded = agentConfig() else { return 2 }
    let config = loaded.config
    let log = agentLog(config, file: loaded.file)
    let loop = EventLoop(maxDescriptors: RuntimeLimits.descriptors(slots: config.sessionSlots),
                         maxTimers: RuntimeLimits.timers(slots: config.sessionSlots))
    let identity: DeviceProfile
    switch DeviceIdentityLoader.load(config: config, log: log) {
    case .failure(let why):
        log.error(why.message)
        return 2
    case .success(let id): identity = id
    }

    let tls: TLSContext?
    switch agentTLS(config) {
    case .failure(let why):
        log.error(why.message)
        return 2
    case .success(let t): tls = t
    }

    let context = RuntimeContext(loop: loop, resolver: Resolver(loop: loop), tls: tls,
                                 config: config, log: log, identity: identity)
    context.loadTenant()
    let policy = AgentPolicy(config: config)
    SSHLog.sink = { log.info("ssh: " + $0) }
    let sessions: SessionServer? = SSHSessions(context: context)
    // v1 sessions ride their own dial-backs and outlive the control connection.
    let v1 = config.transport == .v1 ? V1Service(context: context, policy: policy.keepalive, sessions: sessions) : nil
    let runtime = Runtime(context: context, policy: policy) { ctx, token, owner in
        if let v1 { return TunnelV1(service: v1, context: ctx, token: token, owner: owner) }
        return TunnelV2(context: ctx, token: token, policy: policy.keepalive, sessions: sessions, owner: owner)
    }
    do {
        try loop.watchSignals(terminate: {
            log.info("stopping")
            runtime.shutdown()
            loop.stop()
        }, hangup: { log.reopen() })
    } catch {
        log.error("signals: cannot watch")
        return 1
    }
    runtime.start()
    loop.run()
    return Int(runtime.exitStatus ?? 0)
}

/// The configuration and the file it came from, or nil when it is refused (said on stderr).
@inline(__always)
private func agentConfig() -> (config: AgentConfig, file: String?)? {
    let loaded: (config: AgentConfig, file: String?)
    switch RuntimeConfig.load() {
    case .failure(let e):
        Console.err("tether: " + e.message)
        return nil
    case .success(let l): loaded = l
    }
    do {
        try loaded.config.checkUserMode(isRoot: tether_geteuid() == 0)
    } catch {
        Console.err("tether: " + error.message)
        return nil
    }
    return loaded
}

/// The shared logger, set up as the configuration says; its first lines name the build and
/// the config file.
@inline(__always)
private func agentLog(_ config: AgentConfig, file: String?) -> Logger {
    let log = Logger.shared
    log.retarget(RuntimeLog.target(config.logTarget))
    log.minimumLevel = RuntimeLog.level(config.logLevel)
    log.info(BuildInfo.versionLine)
    if let f = file { log.info("config file " + String(f)) }
    return log
}

/// The TLS client context of an `https://` server (nil for `http://`), with the
/// configuration's trust and max fragment length.
func agentTLS(_ config: AgentConfig) -> Result<TLSContext?, StartupError> {
    guard config.server.isTLS else { return .success(nil) }
    var settings = TLSSettings.fromEnvironment()
    if let f = config.sslCertFile { settings.caFile = f }
    if let d = config.sslCertDir { settings.caDirectory = d }
    switch config.tlsMaxFragment {
    case 512: settings.maxFragment = .b512
    case 1024: settings.maxFragment = .b1024
    case 2048: settings.maxFragment = .b2048
    case 4096: settings.maxFragment = .b4096
    default: settings.maxFragment = .none
    }
    do {
        return .success(try TLSContext(settings: settings))
    } catch {
        return .failure(StartupError("TLS: " + error.message))
    }
}
