import CLibSSH
import CShims
import TetherPlatform

/// The device's SSH service: one libssh bind (host key, algorithms) shared by every
/// connection, the authentication policy and the key oracle. Single-threaded; it never blocks.
///
/// Use: `let server = try SSHServer(config: c)`, then for each session slot
/// `let conn = try server.accept(fd: fd, peer: "...", now: ms)`, drive `conn` from the poll
/// loop (see `SSHServerConnection`), and call `server.reapOrphans()` now and then (any
/// wake-up is fine) so killed children of closed connections do not stay zombies.
public final class SSHServer {
    public let config: SSHServerConfig
    /// The hub's public-key oracle; nil refuses public keys.
    public var oracle: (any PublicKeyOracle)?
    /// Resolves `direct-tcpip` host names without blocking the loop (the agent's forked-child
    /// resolver); nil = names are looked up with a blocking getaddrinfo (debug tools only).
    public var resolver: Resolver?
    /// Called after an asynchronous answer (a name resolved) changed a connection: the runtime
    /// services its connections then.
    public var wake: (() -> Void)?
    let bind: OpaquePointer
    let singleUser: Bool
    var orphans: [pid_t] = []
    /// First of the password tries waiting for a crypt child (linked through `next`).
    var cryptQueue: PendingPassword?
    /// crypt children running (at most `SSHLimits.passwordChildren`).
    var cryptRunning = 0
    /// A crypt child ended while others wait: `wake` is due once the current `service` is over.
    var wakePending = false
    var reapTimerArmed = false
    /// The byte pumps' buffer, one for every connection: the agent is single-threaded and a
    /// pump copies what it keeps (64 KiB per session before).
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: SSHLimits.pumpChunk, alignment: 16)

    public init(config: SSHServerConfig) throws(SSHError) {
        self.config = config
        tether_ssh_set_log_level(config.libsshLogLevel)
        // A child's stdin pipe closing must not kill the agent.
        tether_ignore_sigpipe()
        singleUser = config.forceSingleUser || getuid() != 0
        // `bind` is assigned last: a throw before that leaves nothing for deinit to free twice.
        bind = try SSHServer.makeBind(config)
    }

    private static func makeBind(_ config: SSHServerConfig) throws(SSHError) -> OpaquePointer {
        guard let bind = ssh_bind_new() else { throw .libraryAllocationFailed }
        var key: OpaquePointer? = nil
        let rc: Int32
        if let pem = config.hostKeyPEM {
            rc = ssh_pki_import_privkey_base64(pem, nil, nil, nil, &key)
        } else {
            rc = ssh_pki_import_privkey_file(config.hostKeyPath, nil, nil, nil, &key)
        }
        guard rc == SSH_OK, let key else {
            ssh_bind_free(bind)
            throw .hostKeyUnreadable(config.hostKeyPEM == nil ? config.hostKeyPath : "pem")
        }
        if ssh_key_type(key) == SSH_KEYTYPE_ED25519 && tether_ssh_signs_ed25519() == 0 {
            ssh_key_free(key)
            ssh_bind_free(bind)
            throw .hostKeyTypeUnsupported("ssh-ed25519")
        }
        // The bind owns the key from here on.
        if ssh_bind_options_set(bind, SSH_BIND_OPTIONS_IMPORT_KEY, UnsafeRawPointer(key)) != SSH_OK {
            ssh_key_free(key)
            ssh_bind_free(bind)
            throw .bindOptionRejected("IMPORT_KEY")
        }
        // No /etc/ssh/libssh_server_config: behaviour must not depend on the board's files.
        var no = false
        _ = ssh_bind_options_set(bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no)
        let lists: [(ssh_bind_options_e, String, String)] = [
            (SSH_BIND_OPTIONS_KEY_EXCHANGE, SSHAlgorithms.keyExchange, "KEX"),
            (SSH_BIND_OPTIONS_CIPHERS_C_S, SSHAlgorithms.ciphers, "CIPHERS_C_S"),
            (SSH_BIND_OPTIONS_CIPHERS_S_C, SSHAlgorithms.ciphers, "CIPHERS_S_C"),
            (SSH_BIND_OPTIONS_HMAC_C_S, SSHAlgorithms.macs, "HMAC_C_S"),
            (SSH_BIND_OPTIONS_HMAC_S_C, SSHAlgorithms.macs, "HMAC_S_C"),
        ]
        for (option, value, name) in lists {
            if ssh_bind_options_set(bind, option, value) != SSH_OK {
                ssh_bind_free(bind)
                throw .bindOptionRejected(name)
            }
        }
        return bind
    }

    deinit {
        ssh_bind_free(bind)
        scratch.deallocate()
    }

    /// Starts serving SSH on `fd` (a connected stream socket; socketpair end or TCP). The
    /// connection owns the fd from now on and closes it when it ends.
    public func accept(fd: Int32, peer: String, now: Int64) throws(SSHError) -> SSHServerConnection {
        try SSHServerConnection(server: self, fd: fd, peer: peer, now: now)
    }

    /// The agent's topology: a socketpair whose one end libssh serves and whose other end
    /// (`streamEnd`, non-blocking, owned by the caller) the runtime pumps the slot's stream
    /// into. Socket buffers are bounded to `bufferBytes` per direction (memory per slot).
    public func acceptViaSocketpair(
        peer: String, now: Int64, bufferBytes: Int32 = SSHLimits.socketpairBuffer
    ) throws(SSHError) -> (connection: SSHServerConnection, streamEnd: Int32) {
        var pair: [Int32] = [-1, -1]
        let rc = tether_socketpair_stream(&pair, bufferBytes)
        if rc != 0 { throw .acceptFailed("socketpair: errno " + String(-rc)) }
        do {
            let c = try SSHServerConnection(server: self, fd: pair[0], peer: peer, now: now)
            return (c, pair[1])
        } catch {
            close(pair[0])
            close(pair[1])
            throw error
        }
    }

    /// Reaps children killed when their connection went away. Cheap; call on any wake-up.
    public func reapOrphans() {
        var i = 0
        while i < orphans.count {
            var code: Int32 = 0
            if tether_ssh_reap(orphans[i], &code) != 0 {
                orphans.remove(at: i)
            } else {
                i += 1
            }
        }
    }

    /// Children still waiting to be reaped (tests, diagnostics).
    public var orphanCount: Int { orphans.count }
}

/// Algorithm lists offered by the server (PROTOCOL.md 7.1, 10.7). libssh sends ext-info with
/// server-sig-algs (rsa-sha2-256/512) when the client announces ext-info-c. The host key is
/// the one key imported (RSA: offered as rsa-sha2-512, rsa-sha2-256, ssh-rsa).
/// Key exchange: curve25519 and ECDH first (ShellHub's gateway and OpenSSH pick curve25519);
/// group14 for old clients. DH group16 and group18 are not offered: on an armv7 board they make
/// a whole login 1.7x and 4x as long (BENCHMARKS.md, Tests/bench/kex_cost.py), all of it on
/// the one loop thread, and any client can ask for them.
public enum SSHAlgorithms {
    public static let keyExchange =
        "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
        + "ecdh-sha2-nistp521,diffie-hellman-group14-sha256,diffie-hellman-group14-sha1"
    public static let ciphers =
        "aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,"
        + "aes128-ctr,aes192-ctr,aes256-ctr"
    public static let macs =
        "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,"
        + "hmac-sha2-512,hmac-sha1"
}
