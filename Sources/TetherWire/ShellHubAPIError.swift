/// Why a ShellHub API body or control line could not be used.
public enum ShellHubAPIError: Error, Equatable {
    /// The text is not valid JSON (or exceeds the JSON limits).
    case json(JSONError)
    /// The document is valid JSON but not an object.
    case notAnObject
    /// A required member is absent or null.
    case missingField(String)
    /// A member has the wrong JSON type (e.g. a number where a string belongs).
    case wrongType(String)
    /// A member has the right type but an unusable value (bad base64, bad port).
    case invalidValue(String)
}

/// Shared lookups: absent and null both read as "not there", as in Go's decoder.
enum ShellHubAPIFields {
    static func object<C: Collection>(_ bytes: C) throws(ShellHubAPIError) -> JSONValue
    where C.Element == UInt8 {
        let v: JSONValue
        do {
            v = try JSONReader.parse(bytes)
        } catch {
            throw .json(error)
        }
        guard case .object = v else { throw .notAnObject }
        return v
    }

    static func optionalString(_ v: JSONValue, _ name: String) throws(ShellHubAPIError) -> String? {
        guard let m = v[name], !m.isNull else { return nil }
        guard let s = m.string else { throw .wrongType(name) }
        return s
    }

    static func string(_ v: JSONValue, _ name: String) throws(ShellHubAPIError) -> String {
        guard let s = try optionalString(v, name) else { throw .missingField(name) }
        return s
    }

    /// An integer member (Go's int), nil when absent or null.
    static func optionalInt(_ v: JSONValue, _ name: String) throws(ShellHubAPIError) -> Int64? {
        guard let m = v[name], !m.isNull else { return nil }
        guard let n = m.int64 else { throw .wrongType(name) }
        return n
    }
}
