/// What the store keeps for one key: its value and the revisions that describe its history.
/// 48 bytes inline (the value's text is out of line unless it is at most 15 bytes).
public struct KeyRecord: Sendable, Equatable {
    public var value: String
    /// The revision that created the key (since it last did not exist).
    public var createRevision: Int64
    /// The revision of the last write to the key.
    public var modRevision: Int64
    /// Writes since creation: 1 for a key just created.
    public var version: Int64
    /// The lease the key is attached to; 0 for none.
    public var lease: Int64

    public init(value: String, createRevision: Int64, modRevision: Int64, version: Int64, lease: Int64 = 0) {
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }
}

/// One key and its record, as iteration and ranges hand them out.
public struct KeyEntry: Sendable, Equatable {
    public var key: ByteKey
    public var record: KeyRecord

    public init(key: ByteKey, record: KeyRecord) {
        self.key = key
        self.record = record
    }
}
