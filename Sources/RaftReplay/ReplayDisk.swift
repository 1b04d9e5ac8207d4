import RaftCore
import RaftEngine
import RaftStorage
import RaftVerification

/// One replayed node's disk, across its restarts: what the engine's stores wrote, kept as a
/// `DiskModel` write by write and shown to the safety checker first (terms and votes that never
/// go back, log matching), as the simulator's disk does. It fails a write where the recording
/// shows the node stopping on a failed one.
final class ReplayDisk {
    let node: NodeID
    unowned let checks: ReplayChecks
    private(set) var model = DiskModel(bootstrap: .empty)
    /// The next write fails: the recording shows the node stopping because a write failed.
    var failNextWrite = false
    /// The node stopped on a failed write: the disk may hold only part of the last Ready.
    var uncertain = false

    static let recordedFailure = StorageError.io(file: "replayed disk", operation: "the write the recording shows failing", errno: 5)

    init(node: NodeID, checks: ReplayChecks) {
        self.node = node
        self.checks = checks
    }

    /// The disk as the node found it when it (re)started with `core` (or as a recording that
    /// begins at a checkpoint states it): what the core holds is durable.
    func reset(to core: RaftNode) {
        model = DiskModel(bootstrap: core.configuration(at: core.log.snapshotIndex), hardState: core.hardState,
                          snapshot: core.snapshot, log: core.log.entries)
        failNextWrite = false
        uncertain = false
    }

    /// What a restart would find.
    func view() -> DurableView { model.view() }

    /// The engine's stores: every write lands here.
    var stores: NodeStores {
        NodeStores(log: ReplayLogStore(disk: self), meta: ReplayMetaStore(disk: self), snapshot: ReplaySnapshotStore(disk: self))
    }

    fileprivate func beginWrite() throws(StorageError) {
        guard failNextWrite else { return }
        failNextWrite = false
        throw Self.recordedFailure
    }

    fileprivate func saveHardState(_ state: HardState) throws(StorageError) {
        try beginWrite()
        checks.checker?.checkHardStateWrite(node: node, old: model.hardState, new: state)
        model.saveHardState(state)
        checks.noteViolation()
    }

    fileprivate func write(_ entries: [Entry]) throws(StorageError) {
        guard let first = entries.first else { return }
        try beginWrite()
        if checks.checker != nil {
            let previous = model.view().term(at: first.index - 1)
            checks.checker!.checkWrittenEntries(node: node, entries: entries, previousTerm: previous)
        }
        model.write(entries)
        checks.noteViolation()
    }

    fileprivate func replaceLog(_ entries: [Entry]) throws(StorageError) {
        try beginWrite()
        model.replaceLog(entries)
    }

    fileprivate func compact(through index: LogIndex) throws(StorageError) {
        try beginWrite()
        model.compact(through: index)
    }

    fileprivate func saveSnapshot(_ snapshot: Snapshot) throws(StorageError) {
        try beginWrite()
        model.saveSnapshot(snapshot)
    }
}

/// The replayed engine's log store: writes go to its node's `ReplayDisk`.
final class ReplayLogStore: LogStore {
    let disk: ReplayDisk
    init(disk: ReplayDisk) { self.disk = disk }

    func load() throws(StorageError) -> LoadedLog { LoadedLog(entries: disk.model.log) }
    func write(_ entries: [Entry]) throws(StorageError) { try disk.write(entries) }
    func compact(through index: LogIndex) throws(StorageError) { try disk.compact(through: index) }
    func replace(with entries: [Entry]) throws(StorageError) { try disk.replaceLog(entries) }
    func close() {}
}

/// The replayed engine's term-and-vote store.
final class ReplayMetaStore: MetaStore {
    let disk: ReplayDisk
    init(disk: ReplayDisk) { self.disk = disk }

    func load() throws(StorageError) -> HardState { disk.model.hardState }
    func save(_ state: HardState) throws(StorageError) { try disk.saveHardState(state) }
}

/// The replayed engine's snapshot store. Preparing is free; committing writes to the disk.
///
/// @unchecked Sendable: a replay runs on one thread, offloaded work included (`ReplayExecutor`).
final class ReplaySnapshotStore: SnapshotStore, @unchecked Sendable {
    let disk: ReplayDisk
    init(disk: ReplayDisk) { self.disk = disk }

    func load() throws(StorageError) -> Snapshot? { disk.model.snapshot }
    func prepare(index: LogIndex, term: Term, configuration: ClusterConfiguration?,
                 writing write: (any SnapshotSink) throws -> Void) throws(StorageError) -> PreparedSnapshot {
        let sink = MemorySnapshotSink()
        do { try write(sink) } catch { throw .damaged(file: "replay", line: 0, reason: "\(error)") }
        return PreparedSnapshot(snapshot: Snapshot(index: index, term: term, data: sink.bytes, configuration: configuration),
                                temporaryPath: nil)
    }
    func commit(_ prepared: PreparedSnapshot) throws(StorageError) -> Bool {
        guard prepared.snapshot.index > (disk.model.snapshot?.index ?? 0) else { return false }
        try disk.saveSnapshot(prepared.snapshot)
        return true
    }
    func discard(_ prepared: PreparedSnapshot) {}
}
