import Testing
@testable import TetherAgent

/// Loads a configuration from a dictionary standing in for the process environment.
func loadConfig(
    _ env: [String: String], file: String = "", defaults: BoardDefaults = .generic
) throws(ConfigError) -> AgentConfig {
    let parsed = try EnvFile(parsing: file)
    return try AgentConfig.load(environment: { env[$0] }, file: parsed, defaults: defaults)
}

/// The message of the error thrown by `loadConfig`, or nil if it loads.
func configMessage(_ env: [String: String], file: String = "") -> String? {
    do {
        _ = try loadConfig(env, file: file)
        return nil
    } catch {
        return error.message
    }
}

let tenant = "00000000-0000-4000-0000-000000000000"
let minimal = [
    "SHELLHUB_SERVER_ADDRESS": "https://hub.example.com",
    "SHELLHUB_PRIVATE_KEY": "/etc/shellhub.key",
    "SHELLHUB_TENANT_ID": tenant,
]

func with(_ extra: [String: String], base: [String: String] = minimal) -> [String: String] {
    base.merging(extra) { _, new in new }
}

@Suite struct ConfigTests {
    @Test func defaultsMatchTheGoAgent() throws {
        let c = try loadConfig(minimal)
        #expect(c.server.host == "hub.example.com")
        #expect(c.server.isTLS)
        #expect(c.server.port == 443)
        #expect(c.privateKeyPath == "/etc/shellhub.key")
        #expect(c.tenantID == tenant)
        #expect(c.transport == .v2)
        #expect(c.sessionKeepaliveSeconds == 30)
        #expect(c.maxRetryConnectionTimeout == 60)
        #expect(c.logLevel == .info)
        #expect(c.permitEmptyPasswords == false)
        #expect(c.singleUserPassword == "")
        #expect(c.proxy == nil)
        #expect(c.sessionSlots == 8)
        #expect(c.middleboxIdleSeconds == 60)
        #expect(c.reauthIntervalSeconds == 4 * 3600)
        #expect(c.logTarget == .stderr)
        #expect(c.tcpKeepaliveSeconds == 0)
        #expect(c.sshSessionKeepalive == false)
    }

    @Test func anExplicitKeepaliveIntervalTurnsSessionKeepalivesOn() throws {
        // Unset: quiet. Set in the environment or in the config file: on, at that interval.
        #expect(try loadConfig(minimal).sshSessionKeepalive == false)
        let env = try loadConfig(with(["SHELLHUB_KEEPALIVE_INTERVAL": "1"]))
        #expect(env.sshSessionKeepalive == true)
        #expect(env.sessionKeepaliveSeconds == 1)
        let file = try loadConfig(minimal, file: "KEEPALIVE_INTERVAL=45\n")
        #expect(file.sshSessionKeepalive == true)
        #expect(file.sessionKeepaliveSeconds == 45)
        // TETHER_SSH_KEEPALIVE still decides when it is set.
        #expect(try loadConfig(with(["TETHER_SSH_KEEPALIVE": "1"])).sshSessionKeepalive == true)
        let off = try loadConfig(with(["SHELLHUB_KEEPALIVE_INTERVAL": "5", "TETHER_SSH_KEEPALIVE": "false"]))
        #expect(off.sshSessionKeepalive == false)
    }

    @Test func bareNamesWorkAndPrefixedWins() throws {
        let bare = [
            "SERVER_ADDRESS": "http://bare.example", "PRIVATE_KEY": "/k",
            "TRANSPORT_VERSION": "1",
        ]
        let c = try loadConfig(bare)
        #expect(c.server.host == "bare.example")
        #expect(c.transport == .v1)
        let both = with(["SERVER_ADDRESS": "http://bare.example"], base: with(["TRANSPORT_VERSION": "1"]))
        let d = try loadConfig(both)
        #expect(d.server.host == "hub.example.com")
        // The error names the variable the bad value came from.
        #expect(configMessage(with(["TRANSPORT_VERSION": "3"], base: bare)) == "TRANSPORT_VERSION=3: must be 1 or 2")
    }

    @Test func environmentWinsOverFile() throws {
        let file = """
            SHELLHUB_SERVER_ADDRESS=https://file.example
            SHELLHUB_PRIVATE_KEY=/file/key
            TENANT_ID=\(tenant)
            SHELLHUB_TRANSPORT_VERSION=1
            TETHER_SESSION_SLOTS=3
            """
        let c = try loadConfig(["SERVER_ADDRESS": "https://env.example", "TETHER_SESSION_SLOTS": "5"], file: file)
        // Even the bare environment name beats the prefixed file name.
        #expect(c.server.host == "env.example")
        #expect(c.privateKeyPath == "/file/key")
        #expect(c.tenantID == tenant)
        #expect(c.transport == .v1)
        #expect(c.sessionSlots == 5)
    }

    @Test func serverPathPrefixIsKept() throws {
        let c = try loadConfig(with(["SHELLHUB_SERVER_ADDRESS": "HTTP://[::1]:8080/shellhub/"]))
        #expect(!c.server.isTLS)
        #expect(c.server.host == "::1")
        #expect(c.server.port == 8080)
        #expect(c.server.join(c.transport.endpointPath) == "/shellhub/agent/connection")
    }

    @Test func emptyValueCountsAsUnset() throws {
        let c = try loadConfig(with(["SHELLHUB_TRANSPORT_VERSION": "", "TRANSPORT_VERSION": "1"]))
        #expect(c.transport == .v1)
    }

    @Test(arguments: [
        (["SHELLHUB_TRANSPORT_VERSION": "3"], "SHELLHUB_TRANSPORT_VERSION=3: must be 1 or 2"),
        (["SHELLHUB_TRANSPORT_VERSION": "two"], "SHELLHUB_TRANSPORT_VERSION=two: must be 1 or 2"),
        (["SHELLHUB_MAX_RETRY_CONNECTION_TIMEOUT": "9"], "SHELLHUB_MAX_RETRY_CONNECTION_TIMEOUT=9: must be 10..120"),
        (["SHELLHUB_MAX_RETRY_CONNECTION_TIMEOUT": "121"], "SHELLHUB_MAX_RETRY_CONNECTION_TIMEOUT=121: must be 10..120"),
        (["SHELLHUB_MAX_RETRY_CONNECTION_TIMEOUT": "1m"], "SHELLHUB_MAX_RETRY_CONNECTION_TIMEOUT=1m: not an integer"),
        (["SHELLHUB_KEEPALIVE_INTERVAL": "0"], "SHELLHUB_KEEPALIVE_INTERVAL=0: must be > 0 seconds"),
        (["SHELLHUB_KEEPALIVE_INTERVAL": "-1"], "SHELLHUB_KEEPALIVE_INTERVAL=-1: not a uint32 of seconds"),
        (["SHELLHUB_KEEPALIVE_INTERVAL": "4294967296"], "SHELLHUB_KEEPALIVE_INTERVAL=4294967296: not a uint32 of seconds"),
        (["SHELLHUB_PRIVATE_KEY": "/etc//key"], "SHELLHUB_PRIVATE_KEY=/etc//key: not a clean path, use /etc/key"),
        (["SHELLHUB_PRIVATE_KEY": "/etc/../key"], "SHELLHUB_PRIVATE_KEY=/etc/../key: not a clean path, use /key"),
        (["SHELLHUB_PRIVATE_KEY": "/etc/keys/"], "SHELLHUB_PRIVATE_KEY=/etc/keys/: not a clean path, use /etc/keys"),
        (["SHELLHUB_SERVER_ADDRESS": "hub.example.com"], "SHELLHUB_SERVER_ADDRESS=hub.example.com: not an absolute URL"),
        (["SHELLHUB_SERVER_ADDRESS": "wss://hub"], "SHELLHUB_SERVER_ADDRESS=wss://hub: scheme must be http or https"),
        (["SHELLHUB_TENANT_ID": "acme"], "SHELLHUB_TENANT_ID=acme: must be a UUID"),
        (["SHELLHUB_LOG_LEVEL": "verbose"], "SHELLHUB_LOG_LEVEL=verbose: not a log level (info, debug...)"),
        (["SHELLHUB_PREFERRED_HOSTNAME": "my board"], "SHELLHUB_PREFERRED_HOSTNAME=my board: need 1-64 of A-Z a-z 0-9 . _ -"),
        (["TETHER_SESSION_SLOTS": "0"], "TETHER_SESSION_SLOTS=0: must be 1..64"),
        (["TETHER_SESSION_SLOTS": "65"], "TETHER_SESSION_SLOTS=65: must be 1..64"),
        (["TETHER_MIDDLEBOX_IDLE": "5"], "TETHER_MIDDLEBOX_IDLE=5: must be 10..3600"),
        (["TETHER_REAUTH_INTERVAL": "60"], "TETHER_REAUTH_INTERVAL=60: must be 0 or 300..604800"),
        (["TETHER_LOG": "file"], "TETHER_LOG=file: must be stderr or syslog"),
        (["TETHER_TLS_MAX_FRAGMENT": "8192"], "TETHER_TLS_MAX_FRAGMENT=8192: must be 0, 512, 1024, 2048 or 4096"),
        (["TETHER_TCP_KEEPALIVE": "5"], "TETHER_TCP_KEEPALIVE=5: must be 0 or 10..7200"),
        (["TETHER_SSH_KEEPALIVE": "maybe"], "TETHER_SSH_KEEPALIVE=maybe: must be true or false"),
        (["TETHER_LOGIN_GRACE": "3601"], "TETHER_LOGIN_GRACE=3601: must be 0 or 1..3600"),
        (["TETHER_LOGIN_GRACE": "5m"], "TETHER_LOGIN_GRACE=5m: not an integer"),
        (["SHELLHUB_SERVER_ADDRESS": "https://u:p@hub"], "SHELLHUB_SERVER_ADDRESS=https://u:p@hub: user info"),
        (["SHELLHUB_SERVER_ADDRESS": "https://hub/?a=1"], "SHELLHUB_SERVER_ADDRESS=https://hub/?a=1: query or fragment"),
        (["HTTPS_PROXY": "p:99999"], "HTTPS_PROXY=p:99999: bad port"),
        (["HTTPS_PROXY": "socks5://p:1080"], "HTTPS_PROXY=socks5://p:1080: only http:// proxies are supported"),
    ])
    func refusedWithOneLineNamingTheVariable(extra: [String: String], message: String) {
        #expect(configMessage(with(extra)) == message)
    }

    @Test func requiredVariables() {
        #expect(configMessage([:]) == "SHELLHUB_SERVER_ADDRESS: required, not set")
        #expect(configMessage(["SERVER_ADDRESS": "https://h"]) == "SHELLHUB_PRIVATE_KEY: required, not set")
    }

    @Test func boardMayNameTheKeyPath() throws {
        var board = BoardDefaults.generic
        board.privateKeyPath = "/data/tether/key"
        board.sessionSlots = 2
        board.logTarget = .syslog
        board.middleboxIdleSeconds = 30
        let c = try loadConfig(["SERVER_ADDRESS": "https://h"], defaults: board)
        #expect(c.privateKeyPath == "/data/tether/key")
        #expect(c.sessionSlots == 2)
        #expect(c.logTarget == .syslog)
        #expect(c.middleboxIdleSeconds == 30)
    }

    @Test func goIntegerSyntaxAccepted() throws {
        let c = try loadConfig(with([
            "SHELLHUB_TRANSPORT_VERSION": "0x1", "SHELLHUB_MAX_RETRY_CONNECTION_TIMEOUT": "1_00",
            "SHELLHUB_KEEPALIVE_INTERVAL": "0o74",
        ]))
        #expect(c.transport == .v1)
        #expect(c.maxRetryConnectionTimeout == 100)
        #expect(c.sessionKeepaliveSeconds == 60)
    }

    @Test func tenantNeedNotBeUUIDOnV1() throws {
        let c = try loadConfig(with(["SHELLHUB_TENANT_ID": "acme", "SHELLHUB_TRANSPORT_VERSION": "1"]))
        #expect(c.tenantID == "acme")
    }

    @Test func passwordsAndFlags() throws {
        let c = try loadConfig(with([
            "SIMPLE_USER_PASSWORD": "$6$x$y", "SHELLHUB_PERMIT_EMPTY_PASSWORDS": "TRUE",
        ]))
        #expect(c.singleUserPassword == "$6$x$y")
        #expect(c.permitEmptyPasswords)
        let d = try loadConfig(with([
            "SHELLHUB_SIMPLE_USER_PASSWORD": "$6$old", "SINGLE_USER_PASSWORD": "$6$new",
            "PERMIT_EMPTY_PASSWORDS": "1",
        ]))
        #expect(d.singleUserPassword == "$6$new")
        // Only the word "true" enables it, as in the Go agent.
        #expect(d.permitEmptyPasswords == false)
    }

    @Test func userModeRules() throws {
        let single = try loadConfig(with(["SHELLHUB_SINGLE_USER_PASSWORD": "$6$x$y"]))
        let multi = try loadConfig(minimal)
        #expect(throws: ConfigError.self) { try single.checkUserMode(isRoot: true) }
        #expect(throws: ConfigError.self) { try multi.checkUserMode(isRoot: false) }
        try single.checkUserMode(isRoot: false)
        try multi.checkUserMode(isRoot: true)
    }

    @Test func developmentForcesTrace() throws {
        let c = try loadConfig(with(["SHELLHUB_ENV": "development", "SHELLHUB_LOG_LEVEL": "warning"]))
        #expect(c.logLevel == .trace)
        let d = try loadConfig(with(["LOG_LEVEL": "WARNING"]))
        #expect(d.logLevel == .warn)
    }

    @Test func proxyBySchemeAndNoProxy() throws {
        let c = try loadConfig(with(["HTTPS_PROXY": "proxy.lan:3128", "HTTP_PROXY": "http://other:1"]))
        #expect(c.proxy?.host == "proxy.lan")
        #expect(c.proxy?.port == 3128)
        let d = try loadConfig(with(["https_proxy": "http://p:8080", "NO_PROXY": "localhost, .example.com"]))
        #expect(d.proxy == nil)
        let e = try loadConfig(with(["HTTPS_PROXY": "http://p:8080", "no_proxy": "example.org,hub.example.com:443"]))
        #expect(e.proxy == nil)
        let f = try loadConfig(with(["HTTPS_PROXY": "http://p:8080", "NO_PROXY": "ample.com"]))
        #expect(f.proxy?.host == "p")
        let g = try loadConfig(with(
            ["SHELLHUB_SERVER_ADDRESS": "http://hub.example.com", "HTTPS_PROXY": "http://p:8080"]))
        #expect(g.proxy == nil)
    }

    /// The proxy URL forms Go accepts (and the runtime used to parse from the environment on
    /// its own): scheme optional, port 80 by default, credentials kept, IPv6 in brackets.
    @Test func proxyURLForms() throws {
        func proxy(_ v: String) throws -> (String, UInt16, String?) {
            let c = try loadConfig(with(["HTTPS_PROXY": v]))
            return (c.proxy?.host ?? "-", c.proxy?.port ?? 0, c.proxyCredentials)
        }
        #expect(try proxy("http://proxy.lan:3128") == ("proxy.lan", 3128, nil))
        #expect(try proxy("proxy.lan:8080/") == ("proxy.lan", 8080, nil))
        #expect(try proxy("http://u:p@10.0.0.1") == ("10.0.0.1", 80, "u:p"))
        #expect(try proxy("u:p@w@proxy.lan:1") == ("proxy.lan", 1, "u:p@w"))
        #expect(try proxy("http://[fd00::1]:3128") == ("fd00::1", 3128, nil))
        #expect(configMessage(with(["HTTPS_PROXY": "socks5://x:1"]))?.contains("only http://") == true)
        #expect(configMessage(with(["HTTPS_PROXY": "http://x:notaport"]))?.contains("HTTPS_PROXY") == true)
        // A refusal names the variable but never shows the password.
        let refused = configMessage(with(["HTTPS_PROXY": "http://user:s3cret@:99999"]))
        #expect(refused?.contains("HTTPS_PROXY") == true)
        #expect(refused?.contains("s3cret") == false)
    }

    @Test func noProxyForms() {
        let list = "localhost, .corp.example,example.org:443,10.0.0.5"
        for host in ["localhost", "hub.corp.example", "corp.example", "api.example.org", "10.0.0.5"] {
            #expect(ProxyRules.bypasses(host: host, noProxy: list), "\(host)")
        }
        #expect(!ProxyRules.bypasses(host: "cloud.shellhub.io", noProxy: list))
        #expect(!ProxyRules.bypasses(host: "notexample.org", noProxy: list))
        #expect(ProxyRules.bypasses(host: "anything", noProxy: "*"))
    }

    @Test func longValuesAreShortenedInMessages() {
        let long = String(repeating: "a", count: 100)
        let msg = configMessage(with(["SHELLHUB_PREFERRED_IDENTITY": long]))
        #expect(msg == "SHELLHUB_PREFERRED_IDENTITY=\(String(repeating: "a", count: 24))...: longer than 64 bytes")
        #expect((msg?.utf8.count ?? 0) <= 80)
    }

    @Test func fileSyntaxErrorIsReported() {
        #expect(configMessage(minimal, file: "A=1\nnonsense") == "config file line 2: expected '=' after nonsense")
    }
}

@Suite struct AgentPolicyTests {
    @Test func derivedFromConfig() throws {
        let c = try loadConfig(with(["TETHER_MIDDLEBOX_IDLE": "30", "TETHER_REAUTH_INTERVAL": "0"]))
        let p = AgentPolicy(config: c)
        #expect(p.keepalive.middleboxIdle == .seconds(30))
        #expect(p.keepalive.margin == .seconds(5))
        #expect(p.reauth.interval == 0)
        #expect(p.dialRetry == .tunnelDial)
        let d = AgentPolicy(config: try loadConfig(minimal))
        #expect(d.reauth.interval == .seconds(4 * 3600))
        #expect(d.keepalive.middleboxIdle == .seconds(60))
        #expect(try loadConfig(minimal).loginGraceSeconds == 300)
        #expect(try loadConfig(with(["TETHER_LOGIN_GRACE": "0"])).loginGraceSeconds == 0)
        #expect(try loadConfig(with(["TETHER_LOGIN_GRACE": "20"])).loginGraceSeconds == 20)
        var l = d.makeLifecycle()
        #expect(l.start(now: .zero) == .authenticate)
    }
}
