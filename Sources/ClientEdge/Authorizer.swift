import ClientFront
import KVStore
import KVWire
import SecureChannel

/// Who may do what: with no tokens configured everyone may do everything (loopback only — the
/// server refuses to start otherwise); once any is, every request needs one, compared in
/// constant time against each configured token, and the token's role and prefix decide.
/// Tokens are never logged, echoed or stored anywhere else.
public struct Authorizer: Sendable {
    let tokens: [AccessToken]

    public init(tokens: [AccessToken]) {
        self.tokens = tokens
    }

    public var isOpen: Bool { tokens.isEmpty }

    /// Why `request` with `token` is refused (nil: it may go ahead).
    public func refusal(of request: ClientRequest, token: String?) -> RequestError? {
        guard !tokens.isEmpty else { return nil }
        guard let token, let granted = match(token) else {
            return RequestError(.unauthorized, "this server needs a token: add \"token\" to the request (HTTP: Authorization: Bearer TOKEN)")
        }
        let needed = Self.role(needed: request)
        guard granted.role >= needed else {
            return RequestError(.forbidden, "a \(granted.role.rawValue) token may not \(needed == .admin ? "send admin requests" : "write")")
        }
        if let prefix = granted.prefix, !Self.stays(request, within: prefix) {
            return RequestError(.forbidden, "this token is limited to keys that start with \(prefix.debugDescription)")
        }
        return nil
    }

    /// The HTTP paths that are not requests (status, metrics, the page's feed) need this much.
    public func refusal(ofAdminViewWith token: String?) -> RequestError? {
        refusal(of: .admin(.status), token: token)
    }

    /// The configured token equal to `token`: every one is compared, in constant time.
    func match(_ token: String) -> AccessToken? {
        var found: AccessToken?
        for candidate in tokens where constantTimeEquals(candidate.token.utf8, token.utf8) { found = candidate }
        return found
    }

    static func role(needed request: ClientRequest) -> AccessToken.Role {
        switch request.operation {
        case .admin: return .admin
        case .get, .range, .watch, .unwatch: return .read
        case .leaseKeepAlive, .leaseInfo, .leaseList: return .write
        default: return request.isWrite ? .write : .read
        }
    }

    /// Whether every key the request names starts with `prefix`.
    static func stays(_ request: ClientRequest, within prefix: String) -> Bool {
        func inside(_ key: String) -> Bool { key.utf8.starts(with: prefix.utf8) }
        switch request.operation {
        case .put(let key, _, _), .get(let key, _), .delete(let key), .cas(let key, _, _), .casRevision(let key, _, _):
            return inside(key)
        case .deletePrefix(let keys): return inside(keys)
        case .range(let query): return stays(query, within: prefix)
        case .watch(let watch): return inside(watch.key ?? watch.prefix ?? "")
        case .unwatch, .leaseGrant, .leaseKeepAlive, .leaseRevoke, .leaseInfo, .leaseList, .admin: return true
        case .txn(let transaction):
            return transaction.compare.allSatisfy { inside($0.key) } && (transaction.success + transaction.failure).allSatisfy { step in
                switch step {
                case .put(let key, _, _), .get(let key), .delete(let key): return inside(key)
                case .deletePrefix(let keys): return inside(keys)
                case .range(let query): return stays(query, within: prefix)
                }
            }
        }
    }

    static func stays(_ query: RangeQuery, within prefix: String) -> Bool {
        if let keys = query.prefix { return keys.utf8.starts(with: prefix.utf8) }
        guard let from = query.from, from.utf8.starts(with: prefix.utf8), let to = query.to else { return false }
        guard let end = ByteKey.prefixEnd(of: ByteKey(prefix)) else { return true }
        return !(end < ByteKey(to))
    }
}
