/// Answer of `GET /info` (PROTOCOL.md 3). Every member is optional; unknown ones are ignored.
public struct ServerInfo: Equatable {
    public var version: String?
    public var apiEndpoint: String?
    public var sshEndpoint: String?

    public init(version: String? = nil, apiEndpoint: String? = nil, sshEndpoint: String? = nil) {
        self.version = version
        self.apiEndpoint = apiEndpoint
        self.sshEndpoint = sshEndpoint
    }

    public static func parse<C: Collection>(_ body: C) throws(ShellHubAPIError) -> ServerInfo
    where C.Element == UInt8 {
        let v = try ShellHubAPIFields.object(body)
        var info = ServerInfo(version: try ShellHubAPIFields.optionalString(v, "version"))
        if let e = v["endpoints"], !e.isNull {
            guard case .object = e else { throw .wrongType("endpoints") }
            info.apiEndpoint = try ShellHubAPIFields.optionalString(e, "api")
            info.sshEndpoint = try ShellHubAPIFields.optionalString(e, "ssh")
        }
        return info
    }
}
