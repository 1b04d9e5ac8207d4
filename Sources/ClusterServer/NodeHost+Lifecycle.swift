import Dispatch
import KVStore
import RaftCore
import RaftStorage

/// The live half of a node. @unchecked Sendable: confined to its host's queue; other queues
/// only carry it back to that queue as an identity token.
final class RunningNode: @unchecked Sendable {
    var raft: RaftNode
    let logStore: LogStore
    let metaStore: MetaStore
    let snapshotStore: SnapshotStore
    var machine: KVStateMachine
    /// Appended proposals by log index, waiting to be applied (or overwritten).
    var pending: [LogIndex: PendingWrite] = [:]
    /// Proposals received since the last flush; appended together (group commit).
    var waiting: [(command: String, waiter: WriteWaiter)] = []
    /// Linearizable reads: new ones (asked at the next flush), ones waiting for the leadership
    /// round, and confirmed ones waiting for the state machine to reach their index.
    var newReads: [PendingRead] = []
    var unconfirmedReads: [UInt64: PendingRead] = [:]
    var confirmedReads: [(index: LogIndex, read: PendingRead)] = []
    var nextReadID: UInt64 = 1
    /// A snapshot is being serialized off the queue; who waits for it.
    var snapshotInProgress = false
    var snapshotWaiters: [@Sendable (Result<LogIndex, SnapshotFailure>) -> Void] = []
    let timer: DispatchSourceTimer

    struct PendingRead {
        var id: UInt64
        var key: String
        var reply: @Sendable (LinearizableReadOutcome) -> Void
    }

    struct PendingWrite {
        var term: Term
        var waiter: WriteWaiter
    }

    init(raft: RaftNode, stores: NodeStores, machine: KVStateMachine, timer: DispatchSourceTimer) {
        self.raft = raft
        self.logStore = stores.log
        self.metaStore = stores.meta
        self.snapshotStore = stores.snapshot
        self.machine = machine
        self.timer = timer
    }
}

/// Why a snapshot could not be taken.
public struct SnapshotFailure: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

extension NodeHost {
    /// Loads meta and log, builds the core and starts the timer. Returns why it failed, if it did.
    func start() -> String? {
        dispatchPrecondition(condition: .onQueue(queue))
        let stores = storage.stores(for: id)
        let hardState: HardState
        let snapshot: Snapshot?
        let loaded: LoadedLog
        let restored: RaftLog
        let machine: KVStateMachine
        do {
            hardState = try stores.meta.load()
            snapshot = try stores.snapshot.load()
            loaded = try stores.log.load()
            let base = (index: snapshot?.index ?? 0, term: snapshot?.term ?? 0)
            guard let restoring = RaftLog.restoring(snapshotIndex: base.index, snapshotTerm: base.term, stored: loaded.entries) else {
                throw StorageError.damaged(file: storage.logName(for: id), line: 1,
                                           reason: "the log starts at entry \(loaded.entries.first?.index ?? 0), leaving a gap after the snapshot through \(base.index)")
            }
            restored = restoring.log
            if restoring.droppedStale {
                try stores.log.replace(with: [])
            } else if let first = loaded.entries.first, first.index <= base.index {
                try stores.log.compact(through: base.index)  // a crash came between snapshot and compaction
            }
            machine = try snapshot.map { try KVStateMachine(restoring: $0.data, appliedIndex: $0.index) } ?? KVStateMachine()
        } catch {
            stores.log.close()
            let reason = "\(error)"
            events.log(.error, node: id, "cannot start: \(reason); this node stays down while the others serve")
            registry?.update(NodeStatus.down(id, failure: reason))
            return reason
        }
        let seedValue = seed.map { $0 &+ UInt64(id) &+ UInt64(restarts) &* 7919 } ?? UInt64.random(in: .min ... .max)
        let raft = RaftNode(id: id, clusterSize: clusterSize, config: raftConfig, hardState: hardState,
                            log: restored, snapshot: snapshot, seed: seedValue)
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let running = RunningNode(raft: raft, stores: stores, machine: machine, timer: timer)
        self.running = running
        restarts += 1
        timer.schedule(deadline: .now() + .nanoseconds(Int(tickNanos)), repeating: .nanoseconds(Int(tickNanos)),
                       leeway: .nanoseconds(Int(tickNanos / 10)))
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
        let torn = loaded.droppedTornTail ? " (dropped a torn final line)" : ""
        let fromSnapshot = snapshot.map { "restored a snapshot through entry \($0.index) (\(machine.count) keys), " } ?? ""
        events.log(node: id, "started: \(fromSnapshot)replayed \(restored.entries.count) entries from \(storage.logName(for: id))\(torn); term \(hardState.term), voted for \(hardState.votedFor.map(String.init) ?? "nobody")")
        publishStatus()
        return nil
    }

    func stopRunning(reason: String) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let running else { return }
        running.timer.cancel()
        failWaiters(running, outcome: .unknown)
        running.logStore.close()
        self.running = nil
        flushScheduled = false
        events.log(.warning, node: id, "\(reason): timer stopped, memory dropped; \(running.raft.log.lastIndex) entries remain on disk")
        registry?.update(NodeStatus.down(id))
    }

    func failWaiters(_ running: RunningNode, outcome: WriteOutcome) {
        for index in running.pending.keys.sorted() {
            running.pending[index]!.waiter.finish(outcome)
        }
        running.pending.removeAll()
        for item in running.waiting {
            item.waiter.finish(.nodeDown)
        }
        running.waiting.removeAll()
        for read in running.newReads + Array(running.unconfirmedReads.values) + running.confirmedReads.map(\.read) {
            read.reply(.retry)
        }
        running.newReads.removeAll()
        running.unconfirmedReads.removeAll()
        running.confirmedReads.removeAll()
        for waiter in running.snapshotWaiters {
            waiter(.failure(SnapshotFailure(reason: "the node went down")))
        }
        running.snapshotWaiters.removeAll()
    }
}
