import RaftCore

/// What a log file held when it was opened.
public struct LoadedLog: Sendable, Equatable {
    public var entries: [Entry]
    /// A final line cut short by a crash was found and dropped.
    public var droppedTornTail: Bool

    public init(entries: [Entry], droppedTornTail: Bool = false) {
        self.entries = entries
        self.droppedTornTail = droppedTornTail
    }
}

/// Durable home of one node's Raft log.
///
/// Contract: `load()` is called once, first, and returns the entries in order (throwing
/// `StorageError.damaged` for damage other than a torn final line). `write(_:)` makes the
/// stored log equal to what it held before `entries[0].index`, followed by `entries`; when it
/// returns, the entries are durable (if the store syncs at all). Errors are thrown, never hidden.
public protocol LogStore: AnyObject {
    func load() throws(StorageError) -> LoadedLog
    func write(_ entries: [Entry]) throws(StorageError)
    /// Drops every stored entry through `index` (a snapshot covers them). Atomic: after a crash
    /// the store holds either the old entries or the shortened ones.
    func compact(through index: LogIndex) throws(StorageError)
    /// Makes the store hold exactly `entries` (possibly none). Atomic like `compact`.
    func replace(with entries: [Entry]) throws(StorageError)
    func close()
    /// A compaction through `index` whose slow part (copying what stays, syncing the copy) can
    /// run on another thread; nil when this store only compacts in one go (`compact`).
    func prepareCompaction(through index: LogIndex) -> PreparedCompaction?
    /// Finishes a prepared compaction on the owner's thread: what was appended meanwhile is
    /// added, and the copy replaces the log atomically. Returns false (and changes nothing)
    /// when the log was cut or replaced meanwhile, so the copy no longer matches.
    func commitCompaction(_ prepared: PreparedCompaction) throws(StorageError) -> Bool
    /// As `commitCompaction(_:)`, but when more than `catchUpLimit` bytes were appended while
    /// the copy was made, nothing is committed: the job is pointed at the log's current end
    /// (`.catchUpFirst`), to be `run` again elsewhere and committed after. Each round leaves
    /// less for the owner's thread to copy and sync.
    func commitCompaction(_ prepared: PreparedCompaction, catchUpLimit: Int) throws(StorageError) -> CompactionCommit
}

/// What `commitCompaction(_:catchUpLimit:)` did.
public enum CompactionCommit: Sendable, Equatable {
    /// The copy replaced the log.
    case committed
    /// The log was cut or replaced meanwhile; the copy was dropped.
    case voided
    /// Too much was appended meanwhile: run the job again (off the owner's thread), then commit.
    case catchUpFirst
}

/// The slow half of a compaction, for any thread: `run` does the copying (and, after
/// `.catchUpFirst`, copies what was appended since); `discard` forgets it.
public protocol PreparedCompaction: AnyObject, Sendable {
    func run() throws(StorageError)
    func discard()
}

extension LogStore {
    public func prepareCompaction(through index: LogIndex) -> PreparedCompaction? { nil }
    public func commitCompaction(_ prepared: PreparedCompaction) throws(StorageError) -> Bool { false }
    public func commitCompaction(_ prepared: PreparedCompaction, catchUpLimit: Int) throws(StorageError) -> CompactionCommit {
        try commitCompaction(prepared) ? .committed : .voided
    }
}

/// Durable home of a node's latest snapshot.
///
/// Contract: `save(_:)` replaces the stored snapshot atomically and durably; `load()` returns
/// the last one saved, nil when there is none, and throws `StorageError.damaged` when the stored
/// one cannot be trusted. `prepare(_:)` does the slow part of a save (writing and syncing a
/// temporary copy) and may run on any thread; `commit(_:)` then makes it the stored snapshot,
/// atomically, on the owner's thread; `discard(_:)` forgets a prepared copy.
public protocol SnapshotStore: AnyObject, Sendable {
    /// The stored snapshot (its bytes may stay where they are stored: see `SnapshotData`).
    func load() throws(StorageError) -> Snapshot?
    /// Writes a snapshot somewhere temporary (any thread): `write` hands the state's bytes to
    /// the sink it is given. The prepared snapshot's data reads back what was written.
    func prepare(index: LogIndex, term: Term, configuration: ClusterConfiguration?,
                 writing write: (any SnapshotSink) throws -> Void) throws(StorageError) -> PreparedSnapshot
    /// Makes a prepared snapshot the stored one, durably — unless the store already holds one at
    /// least as new, when the prepared one is dropped and false returned. Any thread.
    @discardableResult
    func commit(_ prepared: PreparedSnapshot) throws(StorageError) -> Bool
    func discard(_ prepared: PreparedSnapshot)
}

extension SnapshotStore {
    /// Prepares a snapshot whose bytes are already at hand (one received from a leader).
    public func prepare(_ snapshot: Snapshot) throws(StorageError) -> PreparedSnapshot {
        try prepare(index: snapshot.index, term: snapshot.term, configuration: snapshot.configuration) { sink in
            try snapshot.data.withContiguousBytes { try sink.write($0) }
        }
    }

    /// Prepares and commits; returns the stored snapshot (whose bytes the store can read back).
    @discardableResult
    public func save(_ snapshot: Snapshot) throws(StorageError) -> Snapshot {
        let prepared = try prepare(snapshot)
        try commit(prepared)
        return prepared.snapshot
    }
}

/// A snapshot written somewhere temporary, waiting for `SnapshotStore.commit`.
public struct PreparedSnapshot: Sendable {
    public let snapshot: Snapshot
    /// Where a file store put it.
    public let temporaryPath: String?

    public init(snapshot: Snapshot, temporaryPath: String?) {
        self.snapshot = snapshot
        self.temporaryPath = temporaryPath
    }
}

/// Durable home of one node's term and vote.
///
/// Contract: `save(_:)` replaces the stored state atomically — after a crash, `load()` returns
/// either the previous state or the new one, never a mix — and is durable when it returns.
/// `load()` of a store that never saved returns term 0 and no vote.
public protocol MetaStore: AnyObject {
    func load() throws(StorageError) -> HardState
    func save(_ state: HardState) throws(StorageError)
}
