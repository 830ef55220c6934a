/// Body of `POST /api/auth/ssh`, the public-key oracle (PROTOCOL.md 4.5, 7.3).
public struct SSHAuthRequest: Equatable {
    /// MD5 legacy fingerprint, lowercase hex pairs joined by `:`.
    public var fingerprint: String
    /// The text the server signs; see `PublicKeyAuthData`.
    public var data: String

    public init(fingerprint: String, data: String) {
        self.fingerprint = fingerprint
        self.data = data
    }

    public func encode() -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.field("fingerprint", fingerprint)
        w.field("data", data)
        w.endObject()
        return w.bytes
    }
}

/// Answer of `POST /api/auth/ssh`: the server's RSA signature over `data`, base64-decoded.
public struct SSHAuthResponse: Equatable {
    public var signature: [UInt8]

    public init(signature: [UInt8]) { self.signature = signature }

    public static func parse<C: Collection>(_ body: C) throws(ShellHubAPIError) -> SSHAuthResponse
    where C.Element == UInt8 {
        let v = try ShellHubAPIFields.object(body)
        let text = try ShellHubAPIFields.string(v, "signature")
        guard let sig = Base64.decode(Array(text.utf8)), !sig.isEmpty else {
            throw .invalidValue("signature")
        }
        return SSHAuthResponse(signature: sig)
    }
}

/// The `data` string the Go agent has the oracle sign: `{"Username":"<user>","Namespace":"<device
/// name>"}` (Go field names; "Namespace" holds the device name). The server signs the decoded
/// string, so the agent must verify the signature over exactly `text`'s UTF-8 bytes.
public struct PublicKeyAuthData: Equatable {
    public var username: String
    public var deviceName: String

    public init(username: String, deviceName: String) {
        self.username = username
        self.deviceName = deviceName
    }

    public var text: String {
        var w = JSONWriter()
        w.beginObject()
        w.field("Username", username)
        w.field("Namespace", deviceName)
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }
}
