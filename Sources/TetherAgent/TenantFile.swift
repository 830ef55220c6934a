/// The tenant a paired device learned, kept beside the key as `<PRIVATE_KEY>.tenant`
/// (PROTOCOL.md 1, Go's `agent/pkg/agentd/tenant.go`): one line, the tenant and `\n`, mode
/// 0600, written atomically by the runtime. The environment's tenant wins over the file.
public enum TenantFile {
    public static func path(forKey keyPath: String) -> String { keyPath + ".tenant" }

    /// The tenant in the file's text (surrounding whitespace dropped); nil when empty.
    public static func parse(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        var start = 0
        var end = bytes.count
        while start < end, isSpace(bytes[start]) { start += 1 }
        while end > start, isSpace(bytes[end - 1]) { end -= 1 }
        return start == end ? nil : String(decoding: bytes[start..<end], as: UTF8.self)
    }

    /// The file's bytes for `tenant`.
    public static func encode(_ tenant: String) -> [UInt8] { Array(tenant.utf8) + [0x0A] }

    private static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }

    /// Where the tenant in use came from.
    public enum Source: Equatable, Sendable {
        case configuration
        case pairing
        /// No tenant at all: the device must pair first (not implemented by Tether yet).
        case none
    }

    public struct Choice: Equatable, Sendable {
        public var tenant: String
        public var source: Source
        /// Both were set and differ: log one warning line (the configuration wins).
        public var conflict: Bool
    }

    /// Picks the tenant: configuration first, else the persisted one.
    public static func resolve(configured: String, persisted: String?) -> Choice {
        if !configured.isEmpty {
            let conflict = persisted.map { $0 != configured } ?? false
            return Choice(tenant: configured, source: .configuration, conflict: conflict)
        }
        if let p = persisted { return Choice(tenant: p, source: .pairing, conflict: false) }
        return Choice(tenant: "", source: .none, conflict: false)
    }

    /// After a 401 on device auth (device removed): a tenant learned by pairing is forgotten
    /// (delete the file, pair again), one from the configuration is kept (stop and say so).
    public static func forgetOnRemoval(_ source: Source) -> Bool { source == .pairing }
}
