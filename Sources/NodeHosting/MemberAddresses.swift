import JSONText
import RuntimeSupport

/// Where a member listens: Raft peers on `raft`, clients on `client`, browsers on `http`
/// (each "host:port", any of them unknown). Kept in the member's configuration entry as
/// `{"raft":"…","client":"…","http":"…"}`, so every node learns where the others are.
public struct MemberAddresses: Sendable, Equatable {
    public var raft: String?
    public var client: String?
    public var http: String?

    public init(raft: String? = nil, client: String? = nil, http: String? = nil) {
        self.raft = raft
        self.client = client
        self.http = http
    }

    /// Reads what `context` wrote; nil when the text is not such an object.
    public init?(context: String) {
        guard case .object(let object)? = try? JSONParser.parse(context) else { return nil }
        raft = object["raft"]?.stringValue
        client = object["client"]?.stringValue
        http = object["http"]?.stringValue
        if raft == nil && client == nil && http == nil { return nil }
    }

    /// The configuration entry's opaque member context (empty when nothing is known).
    public var context: String {
        var members: [(key: String, value: JSONValue)] = []
        if let raft { members.append(("raft", .string(raft))) }
        if let client { members.append(("client", .string(client))) }
        if let http { members.append(("http", .string(http))) }
        guard !members.isEmpty else { return "" }
        var writer = JSONWriter()
        writer.value(.object(JSONObject(members)))
        return writer.text
    }

    /// Splits "host:port" (the host may be "[v6]"); nil when it is not that shape.
    public static func split(_ address: String) -> (host: String, port: Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              port > 0, port < 65536 else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return (host, port)
    }
}
