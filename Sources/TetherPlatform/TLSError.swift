import CMbedTLS
import CShims

/// TLS failures. `message` gives one short line for the log; verification failures name the
/// reason, and a wall clock before the certificate's validity (boards without RTC, before
/// NTP) gets a line that says what to do.
public enum TLSError: Error, Equatable {
    /// An mbedTLS setup call failed (name of the call, mbedTLS error code).
    case setupFailed(step: String, code: Int32)
    /// Verification is on but no CA certificate could be loaded from anywhere tried.
    case noTrustAnchors(tried: String)
    /// A CA file or directory named by the settings or environment could not be read.
    case trustAnchorsUnreadable(path: String, code: Int32)
    /// The server certificate did not verify (mbedTLS verify flags, wall clock at the time).
    case verifyFailed(flags: UInt32, wallClock: Int64)
    /// The handshake failed for another reason (mbedTLS error code).
    case handshakeFailed(code: Int32)
    /// Reading or writing records failed (mbedTLS error code).
    case ioFailed(code: Int32)

    /// Flag bits of `verifyFailed` (MBEDTLS_X509_BADCERT_*).
    public static let flagExpired: UInt32 = 0x01
    public static let flagNameMismatch: UInt32 = 0x04
    public static let flagNotTrusted: UInt32 = 0x08
    public static let flagFuture: UInt32 = 0x0200

    public var message: String {
        switch self {
        case .setupFailed(let step, let code):
            return "tls: " + step + ": " + TLSError.describe(code)
        case .noTrustAnchors(let tried):
            return "tls: no CA certificates (tried " + tried + "); set SSL_CERT_FILE"
        case .trustAnchorsUnreadable(let path, let code):
            return "tls: cannot load CA " + path + ": " + TLSError.describe(code)
        case .verifyFailed(let flags, let now):
            return TLSError.verifyMessage(flags: flags, wallClock: now)
        case .handshakeFailed(let code):
            return "tls: handshake: " + TLSError.describe(code)
        case .ioFailed(let code):
            return "tls: " + TLSError.describe(code)
        }
    }

    /// Whether the failure is a wall clock before the certificate's validity.
    public var isClockTooEarly: Bool {
        if case .verifyFailed(let flags, _) = self { return flags & TLSError.flagFuture != 0 }
        return false
    }

    /// One line for a verification failure; the clock case comes first because it is the
    /// one a user can fix and the raw reason ("not yet valid") hides.
    public static func verifyMessage(flags: UInt32, wallClock: Int64) -> String {
        if flags & flagFuture != 0 {
            return "clock is " + CivilTime(unixSeconds: wallClock).dateString
                + ", before certificate validity: set the time (NTP)"
        }
        var reasons: [String] = []
        if flags & flagNotTrusted != 0 { reasons.append("unknown CA") }
        if flags & flagNameMismatch != 0 { reasons.append("name mismatch") }
        if flags & flagExpired != 0 { reasons.append("expired") }
        if reasons.isEmpty { reasons.append("flags 0x" + String(flags, radix: 16)) }
        var text = "tls: certificate refused:"
        for (i, r) in reasons.enumerated() { text += (i == 0 ? " " : ", ") + r }
        return text
    }

    /// mbedtls_strerror text, e.g. "SSL - The connection indicated an EOF".
    public static func describe(_ code: Int32) -> String {
        var buf = [CChar](repeating: 0, count: 128)
        mbedtls_strerror(code, &buf, 128)
        let text = String(decodingCString: buf)
        return text.isEmpty ? "mbedtls -0x" + String(-code, radix: 16) : text
    }
}
