/// One client operation on the key-value store as a client saw it: what it asked, when it asked
/// (`call`) and when the answer came (`response`, nil when no answer ever came), and the answer.
public struct KVOperation: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case put(String)
        case get
        case delete
        /// Compare-and-set: write the second value if the key holds the first (nil: absent).
        case cas(expect: String?, value: String)
    }

    public enum Outcome: Sendable, Equatable {
        /// The store answered ok: for a get, the value read (nil: not found); for writes, done.
        case ok(String?)
        /// The CAS was refused; the key held `current`.
        case casFailed(current: String?)
        /// No answer, or `timeout`: the operation may have taken effect at any point after its
        /// call, or never.
        case unknown
    }

    public var id: Int
    public var client: Int
    public var key: String
    public var kind: Kind
    /// Nanoseconds on one monotonic clock.
    public var call: UInt64
    public var response: UInt64?
    public var outcome: Outcome

    public init(id: Int, client: Int, key: String, kind: Kind, call: UInt64, response: UInt64?, outcome: Outcome) {
        self.id = id
        self.client = client
        self.key = key
        self.kind = kind
        self.call = call
        self.response = outcome == .unknown ? nil : response
        self.outcome = outcome
    }

    /// A readable one-line form: `put(x) → ok`, `get → "x"`, `cas(nil→y) → failed, held "x"`.
    public var summary: String {
        let request: String
        switch kind {
        case .put(let value): request = "put(\(Self.quote(value)))"
        case .get: request = "get"
        case .delete: request = "delete"
        case .cas(let expect, let value): request = "cas(\(expect.map(Self.quote) ?? "absent") → \(Self.quote(value)))"
        }
        let answer: String
        switch outcome {
        case .ok(let value):
            if case .get = kind { answer = value.map(Self.quote) ?? "not found" } else { answer = "ok" }
        case .casFailed(let current): answer = "refused, held \(current.map(Self.quote) ?? "nothing")"
        case .unknown: answer = "unknown (no answer)"
        }
        return "\(request) → \(answer)"
    }

    static func quote(_ text: String) -> String {
        let short = text.count > 24 ? String(text.prefix(21)) + "…" : text
        return "\"\(short)\""
    }
}

/// The model a history is checked against: one register per key, absent at first.
enum RegisterModel {
    typealias State = String?

    /// Whether `operation`, applied to `state`, could have given its outcome; and the new state.
    static func step(_ state: State, _ operation: KVOperation) -> (allowed: Bool, next: State) {
        switch operation.kind {
        case .put(let value):
            return (!isRefusal(operation.outcome), value)
        case .delete:
            return (!isRefusal(operation.outcome), nil)
        case .get:
            switch operation.outcome {
            case .ok(let value): return (value == state, state)
            case .unknown: return (true, state)
            case .casFailed: return (false, state)
            }
        case .cas(let expect, let value):
            let applies = state == expect
            switch operation.outcome {
            case .ok: return (applies, applies ? value : state)
            case .casFailed(let current): return (!applies && current == state, state)
            case .unknown: return (true, applies ? value : state)
            }
        }
    }

    /// Only a CAS can be refused; a put or delete that was "refused" is impossible.
    private static func isRefusal(_ outcome: KVOperation.Outcome) -> Bool {
        if case .casFailed = outcome { return true }
        return false
    }
}
