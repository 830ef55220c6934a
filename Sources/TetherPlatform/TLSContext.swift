import CMbedTLS
import CShims

/// Client TLS settings. Defaults: verification on, trust from SSL_CERT_FILE / SSL_CERT_DIR
/// (as Go and OpenSSL honour them) or else the system bundle, TLS 1.2 with ECDHE + AEAD,
/// max fragment length 4096 requested, session tickets on.
public struct TLSSettings: Sendable {
    /// Record size the client asks the server to use (RFC 6066 max_fragment_length).
    public enum MaxFragment: UInt8, Sendable {
        case none = 0, b512 = 1, b1024 = 2, b2048 = 3, b4096 = 4
    }

    /// CA bundle file; nil means SSL_CERT_FILE, then the system bundles.
    public var caFile: String?
    /// Directory of CA files; nil means SSL_CERT_DIR.
    public var caDirectory: String?
    public var verifyPeer = true
    public var maxFragment = MaxFragment.b4096
    public var sessionTickets = true
    /// After the first verified handshake, keep only the root CA that verified it and free the
    /// rest of the bundle (Debian's 139 roots take about 450 KiB of heap; one takes 8 KiB).
    /// A later "unknown CA" failure reloads the full bundle for the next attempt.
    public var compactTrust = true

    public init(caFile: String? = nil, caDirectory: String? = nil) {
        self.caFile = caFile
        self.caDirectory = caDirectory
    }

    /// Settings from SSL_CERT_FILE and SSL_CERT_DIR.
    public static func fromEnvironment() -> TLSSettings {
        TLSSettings(caFile: environment("SSL_CERT_FILE"), caDirectory: environment("SSL_CERT_DIR"))
    }

    static func environment(_ name: String) -> String? {
        guard let p = tether_getenv(name) else { return nil }
        let v = String(cString: p)
        return v.isEmpty ? nil : v
    }

    /// CA bundles of the common distributions, in the order Go's crypto/x509 tries them.
    public static let systemBundles = [
        "/etc/ssl/certs/ca-certificates.crt",  // Debian, Ubuntu, Alpine, OpenWrt (ca-bundle)
        "/etc/pki/tls/certs/ca-bundle.crt",  // Fedora, RHEL
        "/etc/ssl/ca-bundle.pem",  // openSUSE
        "/etc/pki/tls/cacert.pem",  // OpenELEC
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // CentOS, RHEL 7
        "/etc/ssl/cert.pem",  // Alpine, OpenWrt (libustream)
    ]
    public static let systemDirectories = ["/etc/ssl/certs"]

    /// Which files of a CA directory to read: the OpenSSL hash links (`5ad8a5d6.0`: one per
    /// CA, what OpenSSL itself looks up) when there are any, else every `.pem`/`.crt` file.
    public static func trustFiles(in names: [String]) -> [String] {
        let hashed = names.filter(isHashLink).sorted()
        if !hashed.isEmpty { return hashed }
        return names.filter { $0.hasSuffix(".pem") || $0.hasSuffix(".crt") }.sorted()
    }

    /// `[0-9a-f]{8}.<digits>` (`.r<digits>` names are CRLs, not read).
    static func isHashLink(_ name: String) -> Bool {
        let b = Array(name.utf8)
        guard b.count >= 10, b[8] == UInt8(ascii: ".") else { return false }
        for c in b[0..<8] where !((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)) { return false }
        return b[9...].allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }
}

/// Shared client TLS state: the DRBG, the trusted CA chain and the mbedTLS configuration
/// (made once, used by every connection), plus a small cache of sessions for resumption.
public final class TLSContext {
    /// Sessions kept for resumption (one per host:port; the agent talks to one hub).
    public static let sessionCacheSize = 4

    public let settings: TLSSettings
    /// Where the CA certificates came from (for the start-up log line).
    public private(set) var trustSource = "none"
    /// Number of CA certificates loaded.
    public private(set) var trustedCount = 0

    let config: UnsafeMutablePointer<mbedtls_ssl_config>
    private let drbg: UnsafeMutablePointer<mbedtls_ctr_drbg_context>
    private var chain: UnsafeMutablePointer<mbedtls_x509_crt>
    /// Handshakes in progress: the CA chain may only be swapped when none is.
    private var handshakesInFlight = 0
    private var pendingRootDER: [UInt8]?
    private var pendingReload = false
    /// Whether the trust store has been reduced to the root that verified the server.
    public private(set) var trustCompacted = false
    private var sessionKeys: [String] = []
    private var sessions: [TLSSavedSession] = []

    public init(settings: TLSSettings = .fromEnvironment()) throws(TLSError) {
        self.settings = settings
        config = .allocate(capacity: 1)
        drbg = .allocate(capacity: 1)
        chain = .allocate(capacity: 1)
        mbedtls_ssl_config_init(config)
        mbedtls_ctr_drbg_init(drbg)
        mbedtls_x509_crt_init(chain)

        let personal: [UInt8] = Array("tether-tls".utf8)
        var rc = mbedtls_ctr_drbg_seed(drbg, tether_tls_entropy, nil, personal, personal.count)
        if rc != 0 { throw .setupFailed(step: "ctr_drbg_seed", code: rc) }
        rc = mbedtls_ssl_config_defaults(config, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT)
        if rc != 0 { throw .setupFailed(step: "ssl_config_defaults", code: rc) }
        mbedtls_ssl_conf_rng(config, mbedtls_ctr_drbg_random, drbg)
        // mbedTLS 2.28's TLS 1.3 is experimental and off in Debian's build: TLS 1.2 only.
        mbedtls_ssl_conf_min_version(config, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3)
        mbedtls_ssl_conf_max_version(config, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3)
        mbedtls_ssl_conf_ciphersuites(config, tether_tls_ciphersuites())
        rc = mbedtls_ssl_conf_max_frag_len(config, settings.maxFragment.rawValue)
        if rc != 0 { throw .setupFailed(step: "conf_max_frag_len", code: rc) }
        mbedtls_ssl_conf_session_tickets(
            config, settings.sessionTickets ? MBEDTLS_SSL_SESSION_TICKETS_ENABLED : MBEDTLS_SSL_SESSION_TICKETS_DISABLED)
        mbedtls_ssl_conf_renegotiation(config, MBEDTLS_SSL_RENEGOTIATION_DISABLED)

        if settings.verifyPeer {
            try loadTrust(into: chain)
            trustedCount = countChain(chain)
            mbedtls_ssl_conf_ca_chain(config, chain, nil)
            mbedtls_ssl_conf_authmode(config, MBEDTLS_SSL_VERIFY_REQUIRED)
        } else {
            mbedtls_ssl_conf_authmode(config, MBEDTLS_SSL_VERIFY_NONE)
        }
    }

    deinit {
        sessions.removeAll()
        mbedtls_ssl_config_free(config)
        mbedtls_x509_crt_free(chain)
        mbedtls_ctr_drbg_free(drbg)
        config.deallocate()
        chain.deallocate()
        drbg.deallocate()
    }

    // MARK: trust compaction

    func handshakeStarted() { handshakesInFlight += 1 }

    /// A handshake ended; `verifiedRoot` is the DER of the trust anchor of a successful one,
    /// `untrusted` tells of an "unknown CA" failure.
    func handshakeEnded(verifiedRoot: [UInt8]?, untrusted: Bool) {
        handshakesInFlight -= 1
        if settings.verifyPeer && settings.compactTrust {
            if let root = verifiedRoot, !trustCompacted { pendingRootDER = root }
            if untrusted && trustCompacted { pendingReload = true }
        }
        guard handshakesInFlight == 0 else { return }
        if pendingReload {
            pendingReload = false
            pendingRootDER = nil
            if replaceChain({ fresh in (try? loadTrust(into: fresh)) != nil }) {
                trustCompacted = false
            }
        } else if let root = pendingRootDER {
            pendingRootDER = nil
            let done = replaceChain { fresh in
                root.withUnsafeBufferPointer { mbedtls_x509_crt_parse_der(fresh, $0.baseAddress, $0.count) == 0 }
            }
            if done {
                trustCompacted = true
                trustedCount = 1
            }
        }
    }

    /// Builds a new chain with `fill` and, when it yields certificates, installs it in place of
    /// the current one (no handshake is using the chain at this point).
    @discardableResult
    private func replaceChain(_ fill: (UnsafeMutablePointer<mbedtls_x509_crt>) -> Bool) -> Bool {
        let fresh = UnsafeMutablePointer<mbedtls_x509_crt>.allocate(capacity: 1)
        mbedtls_x509_crt_init(fresh)
        guard fill(fresh), fresh.pointee.raw.len > 0 else {
            mbedtls_x509_crt_free(fresh)
            fresh.deallocate()
            return false
        }
        mbedtls_ssl_conf_ca_chain(config, fresh, nil)
        mbedtls_x509_crt_free(chain)
        chain.deallocate()
        chain = fresh
        trustedCount = countChain(chain)
        return true
    }

    /// Explicit file/dir (settings or environment) must load; without them, the first system
    /// bundle that yields certificates wins, then the system directory.
    private func loadTrust(into chain: UnsafeMutablePointer<mbedtls_x509_crt>) throws(TLSError) {
        var sources: [String] = []
        if let f = settings.caFile {
            let rc = mbedtls_x509_crt_parse_file(chain, f)
            if rc < 0 { throw .trustAnchorsUnreadable(path: f, code: rc) }
            sources.append(f)
        }
        if let d = settings.caDirectory {
            guard loadDirectory(d, into: chain) else { throw .trustAnchorsUnreadable(path: d, code: -1) }
            sources.append(d)
        }
        if sources.isEmpty {
            for f in TLSSettings.systemBundles where access(f, R_OK) == 0 {
                if mbedtls_x509_crt_parse_file(chain, f) >= 0 && countChain(chain) > 0 {
                    sources.append(f)
                    break
                }
            }
        }
        if sources.isEmpty {
            for d in TLSSettings.systemDirectories where access(d, R_OK) == 0 {
                if loadDirectory(d, into: chain) && countChain(chain) > 0 {
                    sources.append(d)
                    break
                }
            }
        }
        if countChain(chain) == 0 {
            var tried = ""
            for s in [settings.caFile, settings.caDirectory] { if let s { tried += s + " " } }
            if tried.isEmpty { tried = TLSSettings.systemBundles[0] + " ..." }
            throw .noTrustAnchors(tried: tried)
        }
        trustSource = sources.joined(separator: ",")
    }

    /// A CA directory, each certificate once: /etc/ssl/certs holds every CA three times (the
    /// bundle, `<name>.pem` and the `<hash>.0` link), which tripled the start-up heap on a board
    /// (1.7 MiB against 0.6). False when the directory cannot be listed.
    private func loadDirectory(_ dir: String, into chain: UnsafeMutablePointer<mbedtls_x509_crt>) -> Bool {
        guard let names = Files.list(dir) else { return false }
        var seen: [String] = []
        for name in TLSSettings.trustFiles(in: names) {
            let path = dir + "/" + name
            guard let real = Files.resolved(path), !seen.contains(real) else { continue }
            seen.append(real)
            _ = mbedtls_x509_crt_parse_file(chain, path)  // a bad file is skipped, as OpenSSL does
        }
        return true
    }

    private func countChain(_ chain: UnsafeMutablePointer<mbedtls_x509_crt>) -> Int {
        var n = 0
        var c: UnsafeMutablePointer<mbedtls_x509_crt>? = chain
        while let cert = c {
            if cert.pointee.raw.len > 0 { n += 1 }
            c = cert.pointee.next
        }
        return n
    }

    /// The session saved for `key` (host:port), if any.
    func savedSession(for key: String) -> TLSSavedSession? {
        for (i, k) in sessionKeys.enumerated() where k == key { return sessions[i] }
        return nil
    }

    func remember(_ session: TLSSavedSession, for key: String) {
        for (i, k) in sessionKeys.enumerated() where k == key {
            sessions[i] = session
            return
        }
        if sessions.count >= TLSContext.sessionCacheSize {
            sessions.removeFirst()
            sessionKeys.removeFirst()
        }
        sessions.append(session)
        sessionKeys.append(key)
    }

    /// Drops saved sessions (e.g. after the server refused one).
    public func forgetSessions() {
        sessions.removeAll()
        sessionKeys.removeAll()
    }

    /// Number of saved sessions.
    public var savedSessionCount: Int { sessions.count }
}

/// A TLS session saved after a handshake, offered again (ticket or session id) on the next
/// connection to the same server to skip the full handshake.
public final class TLSSavedSession {
    let session: UnsafeMutablePointer<mbedtls_ssl_session>

    init?(from ssl: UnsafeMutablePointer<mbedtls_ssl_context>) {
        session = .allocate(capacity: 1)
        mbedtls_ssl_session_init(session)
        if mbedtls_ssl_get_session(ssl, session) != 0 {
            mbedtls_ssl_session_free(session)
            session.deallocate()
            return nil
        }
    }

    deinit {
        mbedtls_ssl_session_free(session)
        session.deallocate()
    }
}
