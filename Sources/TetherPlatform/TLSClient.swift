import CMbedTLS
import CShims

/// Progress of a non-blocking TLS operation.
public enum TLSProgress: Equatable, Sendable {
    case done
    /// Call again when the socket is readable.
    case wantRead
    /// Call again when the socket is writable.
    case wantWrite
}

/// Result of a non-blocking TLS read or write.
public enum TLSIOResult: Equatable, Sendable {
    case bytes(Int)
    case wantRead
    case wantWrite
    /// close_notify or end of stream from the peer.
    case closed
}

/// One TLS client connection over a connected non-blocking socket. Drive `handshake()` until
/// `.done`, waiting for the readiness it asks for; then `read`/`write`. After a read, check
/// `bytesAvailable`: decrypted bytes already buffered in mbedTLS do not make the fd readable.
/// A write that returned want-read/want-write must be repeated starting with the same bytes
/// (more may follow: the client then reports only the length of the record already built,
/// because mbedTLS 2.28 answers a retry with whatever length it is given).
public final class TLSClient {
    /// MBEDTLS_ERR_NET_CONN_RESET (net_sockets.h, not in the CMbedTLS module map), as the BIO
    /// shims return it for ECONNRESET/EPIPE.
    static let netConnReset: Int32 = -0x0050

    public let serverName: String
    private let context: TLSContext
    private let ssl: UnsafeMutablePointer<mbedtls_ssl_context>
    private let fdBox: UnsafeMutablePointer<Int32>
    private let sessionKey: String
    public private(set) var isHandshakeDone = false
    private var handshakeCounted = false
    /// Plaintext length of the record mbedTLS holds after a write returned want-read/write.
    private var retryLength = 0
    /// DER of the highest certificate of the verified chain (the trust anchor), recorded by
    /// the verify callback.
    var chainTopDER: [UInt8]?
    var chainTopDepth: Int32 = -1
    /// Address bytes when the server is named by an IP literal.
    private var serverAddress: [UInt8]?
    /// GeneralName tag of an iPAddress SAN: context-specific, primitive, [7].
    static let sanIPAddressTag: Int32 = 0x87
    /// Whether a saved session was offered for resumption.
    public private(set) var offeredSession = false

    /// Prepares a client on connected socket `fd` for `serverName`: it is sent as SNI and the
    /// certificate must match it. mbedTLS 2.28 matches names against the CN and DNS SANs only
    /// (no IP SANs), so a hub reached by address needs that address as CN or DNS SAN.
    /// `port` keys the session cache.
    public init(context: TLSContext, fd: Int32, serverName: String, port: UInt16 = 443,
                reuseSession: Bool = true) throws(TLSError) {
        self.context = context
        self.serverName = serverName
        sessionKey = serverName + ":" + String(port)
        ssl = .allocate(capacity: 1)
        fdBox = .allocate(capacity: 1)
        fdBox.pointee = fd
        mbedtls_ssl_init(ssl)
        var rc = mbedtls_ssl_setup(ssl, context.config)
        if rc != 0 { throw .setupFailed(step: "ssl_setup", code: rc) }
        // mbedtls_ssl_set_hostname sets both the SNI and the name the certificate must match.
        rc = mbedtls_ssl_set_hostname(ssl, serverName)
        if rc != 0 { throw .setupFailed(step: "set_hostname", code: rc) }
        mbedtls_ssl_set_bio(ssl, fdBox, tether_tls_bio_send, tether_tls_bio_recv, nil)
        if reuseSession, let saved = context.savedSession(for: sessionKey) {
            offeredSession = mbedtls_ssl_set_session(ssl, saved.session) == 0
        }
        serverAddress = SocketAddress(numericHost: serverName, port: 0)?.bytes
        if context.settings.verifyPeer {
            mbedtls_ssl_set_verify(ssl, { client, crt, depth, flags in
                guard let client, let crt, let flags else { return 0 }
                let me = Unmanaged<TLSClient>.fromOpaque(client).takeUnretainedValue()
                me.inspect(crt, depth: depth, flags: flags)
                return 0
            }, Unmanaged.passUnretained(self).toOpaque())
        }
        context.handshakeStarted()
        handshakeCounted = true
    }

    /// Called by mbedTLS for each certificate of the chain, trust anchor (highest depth)
    /// first, leaf (depth 0) last, with the flags it found.
    ///
    /// - Records the trust anchor for trust compaction.
    /// - Matches an IP-literal server name against the leaf's iPAddress SANs: mbedTLS 2.28
    ///   compares names with the CN and dNSName SANs only, so a hub reached as
    ///   https://192.0.2.10 with a certificate for that address would be refused. Only the
    ///   name-mismatch flag is cleared, and only on an exact address match.
    private func inspect(_ crt: UnsafeMutablePointer<mbedtls_x509_crt>, depth: Int32,
                         flags: UnsafeMutablePointer<UInt32>) {
        if context.settings.compactTrust && depth > chainTopDepth {
            chainTopDepth = depth
            chainTopDER = Array(UnsafeBufferPointer(start: crt.pointee.raw.p, count: crt.pointee.raw.len))
        }
        guard depth == 0, let address = serverAddress,
              flags.pointee & TLSError.flagNameMismatch != 0 else { return }
        var san: mbedtls_x509_sequence? = crt.pointee.subject_alt_names
        while let entry = san {
            let buf = entry.buf
            if buf.tag == TLSClient.sanIPAddressTag, buf.len == address.count, let p = buf.p {
                var same = true
                for i in 0..<address.count where p[i] != address[i] { same = false }
                if same {
                    flags.pointee &= ~TLSError.flagNameMismatch
                    return
                }
            }
            san = entry.next?.pointee
        }
    }

    private func endHandshake(success: Bool, untrusted: Bool) {
        guard handshakeCounted else { return }
        handshakeCounted = false
        context.handshakeEnded(verifiedRoot: success ? chainTopDER : nil, untrusted: untrusted)
        chainTopDER = nil
    }

    deinit {
        endHandshake(success: false, untrusted: false)
        mbedtls_ssl_free(ssl)
        ssl.deallocate()
        fdBox.deallocate()
    }

    /// The socket this client reads and writes.
    public var fd: Int32 { fdBox.pointee }

    /// Advances the handshake as far as the socket allows.
    public func handshake() throws(TLSError) -> TLSProgress {
        if isHandshakeDone { return .done }
        let rc = mbedtls_ssl_handshake(ssl)
        switch rc {
        case 0:
            isHandshakeDone = true
            if let s = TLSSavedSession(from: ssl) { context.remember(s, for: sessionKey) }
            // A resumed session skips verification: nothing recorded, nothing to compact.
            endHandshake(success: true, untrusted: false)
            return .done
        case MBEDTLS_ERR_SSL_WANT_READ: return .wantRead
        case MBEDTLS_ERR_SSL_WANT_WRITE: return .wantWrite
        case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
            let flags = mbedtls_ssl_get_verify_result(ssl)
            endHandshake(success: false, untrusted: flags & TLSError.flagNotTrusted != 0)
            throw .verifyFailed(flags: flags, wallClock: WallClock.nowSeconds())
        default:
            endHandshake(success: false, untrusted: false)
            // A refused resumption must not poison the next attempt.
            if offeredSession { context.forgetSessions() }
            throw .handshakeFailed(code: rc)
        }
    }

    /// Reads decrypted bytes into `buffer`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TLSError) -> TLSIOResult {
        let rc = mbedtls_ssl_read(ssl, buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), buffer.count)
        if rc > 0 { return .bytes(Int(rc)) }
        switch rc {
        case 0, MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY, MBEDTLS_ERR_SSL_CONN_EOF, TLSClient.netConnReset:
            return .closed
        case MBEDTLS_ERR_SSL_WANT_READ: return .wantRead
        case MBEDTLS_ERR_SSL_WANT_WRITE: return .wantWrite
        default: throw .ioFailed(code: rc)
        }
    }

    /// Encrypts and sends (a prefix of) `buffer`. At most one record's payload per call.
    public func write(from buffer: UnsafeRawBufferPointer) throws(TLSError) -> TLSIOResult {
        if buffer.count == 0 { return .bytes(0) }
        // After want-read/write mbedTLS only flushes the record it built and returns the
        // length passed in: pass the record's length, not the (possibly longer) new buffer.
        var length = buffer.count
        if retryLength > 0 { length = min(length, retryLength) }
        let rc = mbedtls_ssl_write(ssl, buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), length)
        if rc > 0 {
            retryLength = 0
            return .bytes(Int(rc))
        }
        switch rc {
        case MBEDTLS_ERR_SSL_WANT_READ, MBEDTLS_ERR_SSL_WANT_WRITE:
            if retryLength == 0 {
                let maxPayload = Int(mbedtls_ssl_get_max_out_record_payload(ssl))
                retryLength = maxPayload > 0 ? min(length, maxPayload) : length
            }
            return rc == MBEDTLS_ERR_SSL_WANT_READ ? .wantRead : .wantWrite
        case TLSClient.netConnReset: return .closed
        default: throw .ioFailed(code: rc)
        }
    }

    /// Decrypted bytes waiting inside mbedTLS: read them now, poll will not report them.
    public var bytesAvailable: Int { mbedtls_ssl_get_bytes_avail(ssl) }

    /// Sends close_notify (best effort; the socket is closed by the owner afterwards).
    public func closeNotify() -> TLSProgress {
        let rc = mbedtls_ssl_close_notify(ssl)
        switch rc {
        case MBEDTLS_ERR_SSL_WANT_READ: return .wantRead
        case MBEDTLS_ERR_SSL_WANT_WRITE: return .wantWrite
        default: return .done
        }
    }

    /// Negotiated suite, e.g. "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256".
    public var cipherSuite: String {
        guard let p = mbedtls_ssl_get_ciphersuite(ssl) else { return "" }
        return String(cString: p)
    }

    /// Negotiated version, e.g. "TLSv1.2".
    public var version: String {
        guard let p = mbedtls_ssl_get_version(ssl) else { return "" }
        return String(cString: p)
    }

    /// Largest plaintext record the peer accepted (max fragment length, else 16384).
    public var maxRecordPayload: Int { Int(mbedtls_ssl_get_output_max_frag_len(ssl)) }
}
