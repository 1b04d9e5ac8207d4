/// A change to one key, as watchers see it: a put (with the key's record after it) or a delete,
/// at the store revision that made it. A transaction's changes share one revision.
public struct KVEvent: Sendable, Equatable {
    public enum Kind: String, Sendable { case put, delete }

    public var kind: Kind
    public var key: String
    /// The record after a put; nil for a delete.
    public var record: KeyRecord?
    public var revision: Int64

    public init(kind: Kind, key: String, record: KeyRecord?, revision: Int64) {
        self.kind = kind
        self.key = key
        self.record = record
        self.revision = revision
    }
}

/// What applying one command produced: the answer for its client, and the changes it made.
public struct KVApplied: Sendable, Equatable {
    public var result: KVResult
    public var events: [KVEvent]

    public init(result: KVResult, events: [KVEvent] = []) {
        self.result = result
        self.events = events
    }
}
