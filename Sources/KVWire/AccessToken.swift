/// What a token may do: `read` gets, ranges and watches; `write` also writes, transactions and
/// leases; `admin` also admin requests. A `prefix` limits it to keys that start with it.
public struct AccessToken: Sendable, Equatable {
    public enum Role: String, Sendable, Comparable {
        case read, write, admin

        public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }
        var rank: Int { self == .read ? 0 : (self == .write ? 1 : 2) }
    }

    public var token: String
    public var role: Role
    public var prefix: String?

    public init(token: String, role: Role, prefix: String? = nil) {
        self.token = token
        self.role = role
        self.prefix = prefix
    }
}
