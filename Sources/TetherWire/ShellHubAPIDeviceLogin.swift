/// Answer of `POST /api/devices/auth/code` (bearer, empty body):
/// `{"code": "WXYZ2K7Q", "expires_in_seconds": 600}` (openapi api@devices@auth@code.yaml).
public struct DeviceLoginCode: Equatable {
    public var code: String
    public var expiresInSeconds: Int64

    public init(code: String, expiresInSeconds: Int64) {
        self.code = code
        self.expiresInSeconds = expiresInSeconds
    }

    /// `code` is required: 8 of the pairing alphabet's characters (A-Z, 2-9); a missing or
    /// non-positive expiry reads as the server's 600 s.
    public static func parse<C: Collection>(_ body: C) throws(ShellHubAPIError) -> DeviceLoginCode
    where C.Element == UInt8 {
        let v = try ShellHubAPIFields.object(body)
        let code = try ShellHubAPIFields.string(v, "code")
        let b = Array(code.utf8)
        guard b.count == 8, b.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x32 && $0 <= 0x39) }) else {
            throw .invalidValue("code")
        }
        let e = try ShellHubAPIFields.optionalInt(v, "expires_in_seconds") ?? 0
        return DeviceLoginCode(code: code, expiresInSeconds: e > 0 ? e : 600)
    }

    /// As people read and type it: `WXYZ-2K7Q`.
    public var display: String {
        let b = Array(code.utf8)
        return String(decoding: b[0..<4], as: UTF8.self) + "-" + String(decoding: b[4...], as: UTF8.self)
    }
}

/// Answer of `GET /api/devices/auth/status` (bearer): `{"status": "pending|accepted|rejected"}`.
public enum DeviceAuthStatus {
    public static func parse<C: Collection>(_ body: C) throws(ShellHubAPIError) -> String
    where C.Element == UInt8 {
        try ShellHubAPIFields.string(try ShellHubAPIFields.object(body), "status")
    }
}
