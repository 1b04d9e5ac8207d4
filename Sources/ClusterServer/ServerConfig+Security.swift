import JSONText
import KVWire

/// The security settings: tokens, the peer secret, TLS files, and the limits against abuse.
public struct SecurityConfig: Sendable, Equatable {
    /// Once any is configured, every request needs one (`"token"` on the line protocol,
    /// `Authorization: Bearer` over HTTP).
    public var tokens: [AccessToken] = []
    /// Members prove they know it (challenge–response) and authenticate every frame (HMAC-SHA-256).
    public var peerSecret: String?
    /// TLS on the client, HTTP and raft ports; `{id}` in a path becomes the member's id.
    public var tls: TLSFiles?
    /// Connections one listener accepts at once; more are answered with an error and closed.
    public var connectionsPerListener = 10_000
    /// Requests one connection may have waiting for their answers; more are refused one by one.
    public var pendingPerConnection = 10_000
    /// A TLS handshake not finished after this long is dropped (a half-open connection).
    public var handshakeTimeoutSeconds = 10

    public struct TLSFiles: Sendable, Equatable {
        public var cert: String
        public var key: String
        public var ca: String

        public init(cert: String, key: String, ca: String) {
            self.cert = cert
            self.key = key
            self.ca = ca
        }

        /// The files of member `id` (`{id}` replaced).
        public func forMember(_ id: Int) -> TLSFiles {
            func fill(_ path: String) -> String { path.replacingOccurrences(of: "{id}", with: String(id)) }
            return TLSFiles(cert: fill(cert), key: fill(key), ca: fill(ca))
        }
    }

    public init() {}
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation).
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

extension Substring {
    func range(of target: String) -> Range<Index>? {
        var index = startIndex
        while index < endIndex {
            if self[index...].hasPrefix(target) { return index..<self.index(index, offsetBy: target.count) }
            index = self.index(after: index)
        }
        return nil
    }
}

extension ServerConfig.Reader {
    func security(_ root: JSONObject, into config: inout SecurityConfig) throws(ServerConfig.Problem) {
        if let value = root["auth"] {
            let auth = try object(value, "auth")
            if let list = auth["tokens"] {
                guard let items = list.arrayValue else {
                    throw ServerConfig.Problem(file: file, key: "auth.tokens", message: "expected an array of tokens, found \(list.kindName)")
                }
                for (position, item) in items.enumerated() {
                    let key = "auth.tokens[\(position)]"
                    let entry = try object(item, key)
                    guard let tokenValue = entry["token"] else { throw ServerConfig.Problem(file: file, key: key + ".token", message: "missing") }
                    let token = try string(tokenValue, key + ".token")
                    guard token.utf8.count >= 8 else {
                        throw ServerConfig.Problem(file: file, key: key + ".token", message: "a token must be at least 8 bytes (use a long random string)")
                    }
                    guard let roleValue = entry["role"] else { throw ServerConfig.Problem(file: file, key: key + ".role", message: "missing") }
                    guard let role = AccessToken.Role(rawValue: try string(roleValue, key + ".role")) else {
                        throw ServerConfig.Problem(file: file, key: key + ".role", message: "must be \"read\", \"write\" or \"admin\"")
                    }
                    let prefix = try entry["prefix"].map { value throws(ServerConfig.Problem) in try string(value, key + ".prefix") }
                    config.tokens.append(AccessToken(token: token, role: role, prefix: prefix))
                }
            }
        }
        if let value = root["peerSecret"] {
            let secret = try string(value, "peerSecret")
            guard secret.utf8.count >= 16 else {
                throw ServerConfig.Problem(file: file, key: "peerSecret", message: "must be at least 16 bytes")
            }
            config.peerSecret = secret
        }
        if let value = root["tls"] {
            let tls = try object(value, "tls")
            func path(_ name: String) throws(ServerConfig.Problem) -> String {
                guard let field = tls[name] else { throw ServerConfig.Problem(file: file, key: "tls.\(name)", message: "missing (tls needs cert, key and ca)") }
                return try string(field, "tls.\(name)")
            }
            config.tls = SecurityConfig.TLSFiles(cert: try path("cert"), key: try path("key"), ca: try path("ca"))
        }
        if let value = root["limits"] {
            let limits = try object(value, "limits")
            if let count = limits["connectionsPerListener"] {
                config.connectionsPerListener = try int(count, "limits.connectionsPerListener", min: 1, max: 1_000_000)
            }
            if let count = limits["pendingPerConnection"] {
                config.pendingPerConnection = try int(count, "limits.pendingPerConnection", min: 1, max: 1_000_000)
            }
        }
        if let value = root["tlsHandshakeTimeoutSeconds"] {
            config.handshakeTimeoutSeconds = try int(value, "tlsHandshakeTimeoutSeconds", min: 1, max: 3600)
        }
    }
}

extension ServerConfig {
    /// Addresses a stranger could reach: anything but loopback.
    static func isLoopback(_ host: String) -> Bool {
        let lowered = host.lowercased()
        return lowered == "localhost" || lowered.hasPrefix("127.") || lowered == "::1" || lowered == "[::1]"
    }

    /// The safe-defaults rule: a server reachable from elsewhere needs tokens, and members
    /// reachable from elsewhere need the peer secret or TLS. Says what to add (nil: fine).
    public func exposureProblem(memberID: Int?) -> String? {
        var exposed: [String] = []
        if !Self.isLoopback(proxyHost) { exposed.append("the client address \(proxyHost):\(proxyPort)") }
        if httpEnabled && !Self.isLoopback(httpHost) { exposed.append("the HTTP address \(httpHost):\(httpPort)") }
        var raftExposed: [String] = []
        if memberID != nil {
            for member in members {
                if let raft = member.raft, let host = MemberAddressParts.host(raft), !Self.isLoopback(host) { raftExposed.append(raft) }
            }
        }
        if (!exposed.isEmpty || !raftExposed.isEmpty) && security.tokens.isEmpty {
            let what = (exposed + raftExposed.map { "the raft address \($0)" }).joined(separator: ", ")
            return "\(what) is not a loopback address, and no tokens are configured: anyone who can reach it could read, write and kill nodes. Add \"auth\": {\"tokens\": [{\"token\": \"<a long random string>\", \"role\": \"admin\"}]} to the config (and give clients a token), or listen on 127.0.0.1"
        }
        if !raftExposed.isEmpty && security.peerSecret == nil && security.tls == nil {
            return "the raft address \(raftExposed.joined(separator: ", ")) is not a loopback address, and members do not authenticate each other: anyone who can reach it could send Raft messages. Add \"peerSecret\": \"<at least 16 random bytes>\" (the same on every member) or \"tls\": {\"cert\", \"key\", \"ca\"} (ServerMain --make-certs DIR --config FILE writes them)"
        }
        return nil
    }
}

/// The host part of "host:port".
enum MemberAddressParts {
    static func host(_ address: String) -> String? {
        guard let colon = address.lastIndex(of: ":") else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host
    }
}
