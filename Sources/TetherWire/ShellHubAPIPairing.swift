/// Tenant-less pairing (PROTOCOL.md 4.6): `POST /api/devices/pairing` (anonymous) with the
/// device's identity, then `GET /api/devices/pairing/<code>/status` until a person accepts the
/// code in the web UI.
public struct PairingRequest: Equatable {
    public var info: DeviceInfo
    public var hostname: String
    public var mac: String
    public var publicKey: String
    /// A pre-authorised code (`SHELLHUB_PAIRING_CODE`); empty = ask the server for one.
    public var code: String

    public init(info: DeviceInfo, hostname: String = "", mac: String, publicKey: String, code: String = "") {
        self.info = info
        self.hostname = hostname
        self.mac = mac
        self.publicKey = publicKey
        self.code = code
    }

    /// The compact JSON body: `{"hostname"?, "identity", "info", "public_key", "code"?}`.
    public func encode() -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.fieldOmitEmpty("hostname", hostname)
        DeviceInfo.writeIdentity(mac: mac, into: &w)
        info.write(into: &w)
        w.field("public_key", publicKey)
        w.fieldOmitEmpty("code", code)
        w.endObject()
        return w.bytes
    }
}

/// An answer of either pairing route: `{"code","expires_in_seconds","status":"pending"}`,
/// `{"status":"accepted","tenant_id"}` or `{"status":"rejected"}`. Unknown members (`uid`,
/// `name`) are ignored.
public struct PairingAnswer: Equatable, Sendable {
    public enum Status: Equatable, Sendable {
        case pending
        case accepted(tenant: String)
        case rejected
    }

    public var status: Status
    /// The code to show (only in the answer that created it).
    public var code: String?
    public var expiresInSeconds: Int64?

    public init(status: Status, code: String? = nil, expiresInSeconds: Int64? = nil) {
        self.status = status
        self.code = code
        self.expiresInSeconds = expiresInSeconds
    }

    public static func parse<C: Collection>(_ body: C) throws(ShellHubAPIError) -> PairingAnswer
    where C.Element == UInt8 {
        let v = try ShellHubAPIFields.object(body)
        var expires: Int64? = nil
        if let e = v["expires_in_seconds"], !e.isNull {
            guard case .number(let n) = e, let s = n.int64, s > 0 else {
                throw .invalidValue("expires_in_seconds")
            }
            expires = s
        }
        let code = try ShellHubAPIFields.optionalString(v, "code")
        let status: Status
        switch try ShellHubAPIFields.string(v, "status") {
        case "pending":
            status = .pending
        case "accepted":
            let tenant = try ShellHubAPIFields.string(v, "tenant_id")
            guard !tenant.isEmpty else { throw .invalidValue("tenant_id") }
            status = .accepted(tenant: tenant)
        case "rejected":
            status = .rejected
        default:
            throw .invalidValue("status")
        }
        return PairingAnswer(status: status, code: code, expiresInSeconds: expires)
    }

    /// The code as people read it: `WXYZ2K7Q` → `WXYZ-2K7Q` (other lengths unchanged).
    public static func display(_ code: String) -> String {
        let b = Array(code.utf8)
        guard b.count == 8 else { return code }
        return String(decoding: b[0..<4], as: UTF8.self) + "-" + String(decoding: b[4..<8], as: UTF8.self)
    }
}
