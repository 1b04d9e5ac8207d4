import Dispatch
import KVStore
import RaftCore
import RaftStorage

/// The live half of a node (queue-confined to its host's queue).
final class RunningNode {
    var raft: RaftNode
    let logStore: LogStore
    let metaStore: MetaStore
    var machine = KVStateMachine()
    /// Appended proposals by log index, waiting to be applied (or overwritten).
    var pending: [LogIndex: PendingWrite] = [:]
    /// Proposals received since the last flush; appended together (group commit).
    var waiting: [(command: String, waiter: WriteWaiter)] = []
    let timer: DispatchSourceTimer

    struct PendingWrite {
        var term: Term
        var waiter: WriteWaiter
    }

    init(raft: RaftNode, logStore: LogStore, metaStore: MetaStore, timer: DispatchSourceTimer) {
        self.raft = raft
        self.logStore = logStore
        self.metaStore = metaStore
        self.timer = timer
    }
}

extension NodeHost {
    /// Loads meta and log, builds the core and starts the timer. Returns why it failed, if it did.
    func start() -> String? {
        dispatchPrecondition(condition: .onQueue(queue))
        let (logStore, metaStore) = storage.stores(for: id)
        let hardState: HardState
        let loaded: LoadedLog
        do {
            hardState = try metaStore.load()
            loaded = try logStore.load()
        } catch {
            logStore.close()
            let reason = "\(error)"
            events.log(.error, node: id, "cannot start: \(reason); this node stays down while the others serve")
            registry?.update(NodeStatus.down(id, failure: reason))
            return reason
        }
        let seedValue = seed.map { $0 &+ UInt64(id) &+ UInt64(restarts) &* 7919 } ?? UInt64.random(in: .min ... .max)
        let raft = RaftNode(id: id, clusterSize: clusterSize, config: raftConfig, hardState: hardState,
                            log: RaftLog(entries: loaded.entries), seed: seedValue)
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let running = RunningNode(raft: raft, logStore: logStore, metaStore: metaStore, timer: timer)
        self.running = running
        restarts += 1
        timer.schedule(deadline: .now() + .nanoseconds(Int(tickNanos)), repeating: .nanoseconds(Int(tickNanos)),
                       leeway: .nanoseconds(Int(tickNanos / 10)))
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
        let torn = loaded.droppedTornTail ? " (dropped a torn final line)" : ""
        events.log(node: id, "started: replayed \(loaded.entries.count) entries from \(storage.logName(for: id))\(torn); term \(hardState.term), voted for \(hardState.votedFor.map(String.init) ?? "nobody")")
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
    }
}
