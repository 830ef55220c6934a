/// The one shape of every request the agent makes to ShellHub's API: `User-Agent:
/// tether/<version>`, `Accept: application/json`, the bearer token when there is one, a JSON
/// body with its `Content-Type` (the server answers 415 without it) or none, and `Connection:
/// close` (each call is its own short connection; the next one is minutes or hours away). No
/// `Accept-Encoding`: the agent does not inflate.
public enum ShellHubAPIRequest {
    /// `path` is joined onto the server's path prefix; `json` nil sends no body.
    public static func encode(_ method: String, _ path: String, server: HTTPServerURL,
                              agentVersion: String, bearer: String? = nil,
                              json: [UInt8]? = nil) throws(HTTPError) -> [UInt8] {
        var headers = HTTPHeaders()
        headers.add("User-Agent", "tether/" + agentVersion)
        if json != nil { headers.add("Content-Type", "application/json") }
        headers.add("Accept", "application/json")
        if let bearer { headers.add("Authorization", "Bearer " + bearer) }
        headers.add("Connection", "close")
        return try HTTPRequest(method: method, target: server.join(path), host: server.hostHeader,
                               headers: headers, body: json ?? []).encode()
    }
}
