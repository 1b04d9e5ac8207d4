import KVStore
import RaftStorage

/// A node's applied state, frozen for a backup: every entry through `index` is committed.
public struct BackupView: Sendable {
    public let state: KVState
    public let index: Int
    public let term: Int
    public let revision: Int64
    public let keys: Int
}

/// What a node answers when asked for a backup view.
public enum BackupViewAnswer: Sendable {
    case ready(BackupView)
    /// The node has not applied `revision` yet (it has applied `applied`): ask again soon.
    case behind(applied: Int64)
    /// The node is down.
    case down
}

extension NodeHost {
    /// On the node's queue: its applied state frozen (one reference, no copy), once that state
    /// holds `revision` — the store's revision that a linearizable read saw, so the backup holds
    /// every write acknowledged before it was asked for. Serializing and writing the file are the
    /// caller's, off this queue.
    public func backupView(atLeastRevision revision: Int64, reply: @escaping @Sendable (BackupViewAnswer) -> Void) {
        queue.async {
            if self.flushScheduled { self.flush() }
            guard let engine = self.engine else { return reply(.down) }
            let machine = engine.machine
            guard machine.revision >= revision else { return reply(.behind(applied: machine.revision)) }
            let index = machine.appliedIndex
            reply(.ready(BackupView(state: machine.freeze(), index: index, term: engine.raft.log.term(at: index) ?? 0,
                                    revision: machine.revision, keys: machine.count)))
        }
    }
}
