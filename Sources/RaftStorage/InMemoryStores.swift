import RaftCore
import Synchronization

/// A `LogStore` in memory, for tests; it survives "crashes" of the node that uses it as long as
/// the test keeps the object.
public final class InMemoryLogStore: LogStore, @unchecked Sendable {
    private let entries = Mutex<[Entry]>([])

    public init(entries: [Entry] = []) {
        self.entries.withLock { $0 = entries }
    }

    public var stored: [Entry] { entries.withLock { $0 } }

    public func load() throws(StorageError) -> LoadedLog {
        LoadedLog(entries: stored)
    }

    public func write(_ newEntries: [Entry]) throws(StorageError) {
        guard let first = newEntries.first else { return }
        entries.withLock { entries in
            let base = (entries.first?.index ?? first.index) - 1
            let keep = max(0, min(entries.count, first.index - 1 - base))
            entries.removeSubrange(keep...)
            entries.append(contentsOf: newEntries)
        }
    }

    public func compact(through index: LogIndex) throws(StorageError) {
        entries.withLock { $0.removeAll { $0.index <= index } }
    }

    public func replace(with newEntries: [Entry]) throws(StorageError) {
        entries.withLock { $0 = newEntries }
    }

    public func close() {}
}

/// A `SnapshotStore` in memory, for tests.
public final class InMemorySnapshotStore: SnapshotStore, @unchecked Sendable {
    private let snapshot = Mutex<Snapshot?>(nil)

    public init() {}

    public func load() throws(StorageError) -> Snapshot? { snapshot.withLock { $0 } }

    public func prepare(index: LogIndex, term: Term, configuration: ClusterConfiguration?,
                        writing write: (any SnapshotSink) throws -> Void) throws(StorageError) -> PreparedSnapshot {
        let sink = MemorySnapshotSink()
        do {
            try write(sink)
        } catch let error as StorageError {
            throw error
        } catch {
            throw .damaged(file: "memory", line: 0, reason: "the state machine could not write its snapshot: \(error)")
        }
        return PreparedSnapshot(snapshot: Snapshot(index: index, term: term, data: sink.bytes, configuration: configuration),
                                temporaryPath: nil)
    }

    @discardableResult
    public func commit(_ prepared: PreparedSnapshot) throws(StorageError) -> Bool {
        snapshot.withLock {
            guard prepared.snapshot.index > ($0?.index ?? 0) else { return false }
            $0 = prepared.snapshot
            return true
        }
    }

    public func discard(_ prepared: PreparedSnapshot) {}
}

/// A `MetaStore` in memory, for tests.
public final class InMemoryMetaStore: MetaStore, @unchecked Sendable {
    private let state = Mutex(HardState())

    public init(state: HardState = HardState()) {
        self.state.withLock { $0 = state }
    }

    public func load() throws(StorageError) -> HardState { state.withLock { $0 } }

    public func save(_ newState: HardState) throws(StorageError) { state.withLock { $0 = newState } }
}
