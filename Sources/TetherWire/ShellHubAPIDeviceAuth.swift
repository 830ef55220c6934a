/// The `info` object of device auth (PROTOCOL.md 2.5). All five members are always sent.
public struct DeviceInfo: Equatable {
    public var id: String
    public var prettyName: String
    public var version: String
    public var arch: String
    public var platform: String

    public init(id: String, prettyName: String, version: String, arch: String, platform: String = "native") {
        self.id = id
        self.prettyName = prettyName
        self.version = version
        self.arch = arch
        self.platform = platform
    }
}

/// Body of `POST /api/devices/auth` (PROTOCOL.md 4.2, docs/protocol-changes.md). Member order
/// follows the protocol text; `hostname`, `install_key`, `provisioning_key`, `challenge`,
/// `signature` and `sessions` are omitted when empty, and `tenant_id` too when a provisioning
/// key is sent without it (the server then resolves the tenant from the key); `identity` is
/// always present because the server rejects a body without it.
public struct DeviceAuthRequest: Equatable {
    public var info: DeviceInfo
    public var hostname: String
    public var mac: String
    public var publicKey: String
    public var tenantID: String
    /// `install_key`: the older servers' name of the key (up to v0.27.0-rc.6).
    public var installKey: String
    /// `provisioning_key`: the newer servers' name.
    public var provisioningKey: String
    /// The device key proof: the server's challenge and `DeviceKeyProof.signatureField`.
    public var challenge: String
    public var signature: String
    public var sessions: [String]

    public init(
        info: DeviceInfo, hostname: String = "", mac: String, publicKey: String, tenantID: String,
        installKey: String = "", provisioningKey: String = "", challenge: String = "",
        signature: String = "", sessions: [String] = []
    ) {
        self.info = info
        self.hostname = hostname
        self.mac = mac
        self.publicKey = publicKey
        self.tenantID = tenantID
        self.installKey = installKey
        self.provisioningKey = provisioningKey
        self.challenge = challenge
        self.signature = signature
        self.sessions = sessions
    }

    /// What the signature covers: the members as this request sends them.
    public func proofStatement(challenge: String) -> [UInt8] {
        DeviceKeyProof.statement(
            challenge: challenge, tenantID: tenantID, provisioningKey: provisioningKey,
            publicKey: publicKey)
    }

    /// The compact JSON body.
    public func encode() -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        info.write(into: &w)
        w.fieldOmitEmpty("hostname", hostname)
        DeviceInfo.writeIdentity(mac: mac, into: &w)
        w.field("public_key", publicKey)
        if provisioningKey.isEmpty {
            w.field("tenant_id", tenantID)
        } else {
            w.fieldOmitEmpty("tenant_id", tenantID)
        }
        w.fieldOmitEmpty("install_key", installKey)
        w.fieldOmitEmpty("provisioning_key", provisioningKey)
        w.fieldOmitEmpty("challenge", challenge)
        w.fieldOmitEmpty("signature", signature)
        if !sessions.isEmpty {
            w.key("sessions")
            w.beginArray()
            for s in sessions { w.string(s) }
            w.endArray()
        }
        w.endObject()
        return w.bytes
    }
}

extension DeviceInfo {
    /// `"info":{...}` with all five members, as device auth and pairing send it.
    func write(into w: inout JSONWriter) {
        w.key("info")
        w.beginObject()
        w.field("id", id)
        w.field("pretty_name", prettyName)
        w.field("version", version)
        w.field("arch", arch)
        w.field("platform", platform)
        w.endObject()
    }

    /// `"identity":{"mac":...}`.
    static func writeIdentity(mac: String, into w: inout JSONWriter) {
        w.key("identity")
        w.beginObject()
        w.field("mac", mac)
        w.endObject()
    }
}

/// Answer of `POST /api/devices/auth`. `status` is absent on the server's 30 s cache hits;
/// `tenantID` only comes from servers newer than the protocol snapshot. Unknown members
/// (`config`, ...) are ignored.
public struct DeviceAuthResponse: Equatable {
    public var uid: String
    public var token: String
    public var name: String
    public var namespace: String
    public var status: String?
    public var tenantID: String?

    public init(
        uid: String, token: String, name: String, namespace: String, status: String? = nil,
        tenantID: String? = nil
    ) {
        self.uid = uid
        self.token = token
        self.name = name
        self.namespace = namespace
        self.status = status
        self.tenantID = tenantID
    }

    /// Parses the response body. `uid` and `token` are required; `name` and `namespace` read as
    /// empty when absent (Go's zero values).
    public static func parse<C: Collection>(_ body: C) throws(ShellHubAPIError) -> DeviceAuthResponse
    where C.Element == UInt8 {
        let v = try ShellHubAPIFields.object(body)
        return DeviceAuthResponse(
            uid: try ShellHubAPIFields.string(v, "uid"),
            token: try ShellHubAPIFields.string(v, "token"),
            name: try ShellHubAPIFields.optionalString(v, "name") ?? "",
            namespace: try ShellHubAPIFields.optionalString(v, "namespace") ?? "",
            status: try ShellHubAPIFields.optionalString(v, "status"),
            tenantID: try ShellHubAPIFields.optionalString(v, "tenant_id"))
    }
}
