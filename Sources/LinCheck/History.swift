/// One client operation on the key-value store as a client saw it: what it asked, when it asked
/// (`call`) and when the answer came (`response`, nil when no answer ever came), and the answer.
public struct KVOperation: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case put(String)
        case get
        case delete
        /// Compare-and-set: write the second value if the key holds the first (nil: absent).
        case cas(expect: String?, value: String)
        /// Add `String` to the end of what the key holds (absent counts as ""), as in the MIT
        /// 6.5840 key-value lab.
        case append(String)
        /// Compare-and-set by revision: write `value` if the key's modRevision is
        /// `expectRevision` (0: the key is absent).
        case casRevision(expectRevision: Int, value: String)
    }

    public enum Outcome: Sendable, Equatable {
        /// The store answered ok: for a get, the value read (nil: not found); for writes, done.
        case ok(String?)
        /// The CAS was refused; the key held `current`.
        case casFailed(current: String?)
        /// The CAS was refused because its comparison failed; what the key held was never
        /// learned (Jepsen's `:fail` for a `:cas`).
        case casRefused
        /// A write was done and the key's modRevision is now `revision`.
        case written(revision: Int)
        /// A cas-by-revision was refused: the key held `current` at modRevision `modRevision`.
        case revisionMismatch(current: String?, modRevision: Int)
        /// No answer, or `timeout`: the operation may have taken effect at any point after its
        /// call, or never.
        case unknown
    }

    public var id: Int
    public var client: Int
    public var key: String
    public var kind: Kind
    /// Nanoseconds on one monotonic clock (or, for histories without times, event numbers).
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

    /// Whether the operation is a read (it never changes the key).
    public var isRead: Bool {
        if case .get = kind { return true }
        return false
    }

    /// Whether the key may have changed by it: a write not refused.
    public var mayWrite: Bool {
        switch outcome {
        case .casFailed, .casRefused, .revisionMismatch: return false
        default: return !isRead
        }
    }

    /// Whether the operation uses the key's modRevision.
    public var usesRevisions: Bool {
        if case .casRevision = kind { return true }
        switch outcome {
        case .written, .revisionMismatch: return true
        default: return false
        }
    }

    /// A readable one-line form: `put(x) → ok`, `get → "x"`, `cas(nil→y) → failed, held "x"`.
    public var summary: String { "\(requestSummary) → \(answerSummary)" }

    var requestSummary: String {
        switch kind {
        case .put(let value): return "put(\(Self.quote(value)))"
        case .get: return "get"
        case .delete: return "delete"
        case .cas(let expect, let value): return "cas(\(expect.map(Self.quote) ?? "absent") → \(Self.quote(value)))"
        case .append(let value): return "append(\(Self.quote(value)))"
        case .casRevision(let revision, let value): return "cas(revision \(revision) → \(Self.quote(value)))"
        }
    }

    var answerSummary: String {
        switch outcome {
        case .ok(let value):
            return isRead ? (value.map(Self.quote) ?? "not found") : "ok"
        case .casFailed(let current): return "refused, held \(current.map(Self.quote) ?? "nothing")"
        case .casRefused: return "refused"
        case .written(let revision): return "ok, revision \(revision)"
        case .revisionMismatch(let current, let revision):
            return "refused, held \(current.map(Self.quote) ?? "nothing") at revision \(revision)"
        case .unknown: return "unknown (no answer)"
        }
    }

    static func quote(_ text: String) -> String {
        let short = text.count > 24 ? String(text.prefix(21)) + "…" : text
        return "\"\(short)\""
    }
}
