import Dispatch
import KVStore
import RaftCore
import RaftStorage

/// One node of the cluster: a serial DispatchQueue that owns a `RaftNode`, its stores, its
/// key-value state machine and its waiting clients, and a DispatchSourceTimer on that queue
/// that ticks the core. Other code reaches it only through the methods below, which hop onto
/// the queue. `kill()` drops everything but the disk; `restart()` rebuilds from the disk.
///
/// @unchecked Sendable: every mutable field is touched only on `queue`.
public final class NodeHost: @unchecked Sendable {
    public let id: NodeID
    public let queue: DispatchQueue
    let clusterSize: Int
    let raftConfig: RaftConfig
    let tickNanos: UInt64
    let storage: NodeStorage
    let events: EventLog
    let seed: UInt64?
    /// Snapshot after this many applied entries past the last snapshot (0: only on request).
    let snapshotEveryEntries: Int
    weak var registry: ClusterRegistry?

    /// The live half of the node; nil while it is down.
    var running: RunningNode?
    var flushScheduled = false
    var lastLeaderContact: UInt64 = 0
    var restarts = 0
    /// Counters that survive restarts of the node (the process keeps them).
    var metrics = NodeMetrics()
    /// Commits not yet reported in the event log, and when the last report went out.
    var unreportedCommits = 0
    var lastCommitReport: UInt64 = 0

    init(id: NodeID, clusterSize: Int, raftConfig: RaftConfig, tickMs: Int, storage: NodeStorage,
         events: EventLog, seed: UInt64?, snapshotEveryEntries: Int) {
        self.snapshotEveryEntries = snapshotEveryEntries
        self.id = id
        self.queue = DispatchQueue(label: "raft.node.\(id)", qos: .userInitiated)
        self.clusterSize = clusterSize
        self.raftConfig = raftConfig
        self.tickNanos = UInt64(tickMs) * 1_000_000
        self.storage = storage
        self.events = events
        self.seed = seed
    }

    // MARK: - Entry points (any thread)

    /// A Raft message from another node.
    public func deliver(_ envelope: Envelope) {
        queue.async { self.receive(envelope) }
    }

    /// Proposes a command; `waiter` hears the outcome.
    public func propose(_ command: KVCommand, waiter: WriteWaiter) {
        let text = command.encoded  // encode on the caller's queue, not the node's
        queue.async { self.enqueueProposal(text, waiter: waiter) }
    }

    /// Reads the applied state ("eventual"), several keys at once; `reply` gets their values in
    /// order, or nil when the node is down.
    public func readBatch(_ keys: [String], reply: @escaping @Sendable ([String?]?) -> Void) {
        queue.async {
            guard let running = self.running else { return reply(nil) }
            reply(keys.map { running.machine.get($0) })
        }
    }

    /// A linearizable read through ReadIndex: confirmed by a quorum, served once applied.
    public func readLinearizable(_ key: String, reply: @escaping @Sendable (LinearizableReadOutcome) -> Void) {
        queue.async { self.enqueueRead(key, reply: reply) }
    }

    /// Takes a snapshot now; `reply` gets the index it covers, or why it failed.
    public func snapshotNow(reply: @escaping @Sendable (Result<LogIndex, SnapshotFailure>) -> Void) {
        queue.async {
            guard let running = self.running else { return reply(.failure(SnapshotFailure(reason: "the node is down"))) }
            running.snapshotWaiters.append(reply)
            self.beginSnapshot()
        }
    }

    /// The last `count` log entries (from memory when up, from the file when down).
    public func recentEntries(_ count: Int, reply: @escaping @Sendable (Result<[Entry], StorageError>) -> Void) {
        queue.async {
            if let running = self.running {
                let log = running.raft.log
                let first = max(log.firstIndex, log.lastIndex - count + 1)
                return reply(.success(log.entries(from: first, through: log.lastIndex)))
            }
            let logStore = self.storage.stores(for: self.id).log
            defer { logStore.close() }
            do throws(StorageError) {
                let loaded = try logStore.load()
                reply(.success(Array(loaded.entries.suffix(count))))
            } catch {
                reply(.failure(error))
            }
        }
    }

    /// Crashes the node: timer stopped, memory dropped, files closed. Waiting writers learn
    /// `unknown` (appended entries may still commit elsewhere).
    public func kill(reason: String = "killed", done: (@Sendable () -> Void)? = nil) {
        queue.async {
            self.stopRunning(reason: reason)
            done?()
        }
    }

    /// Rebuilds the node from its files and lets it rejoin. `done` gets nil on success or the
    /// reason it stays down.
    public func restart(done: (@Sendable (String?) -> Void)? = nil) {
        queue.async {
            if self.running != nil { done?(nil); return }
            done?(self.start())
        }
    }

    /// Stops cleanly at shutdown: everything handed out is already durable; close the files.
    public func shutdown() {
        queue.sync {
            if let running = self.running {
                running.timer.cancel()
                self.failWaiters(running, outcome: .unknown)
                running.logStore.close()
                self.running = nil
            }
        }
    }
}
