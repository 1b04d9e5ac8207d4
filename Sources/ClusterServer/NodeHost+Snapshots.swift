import Dispatch
import KVStore
import RaftCore
import RaftStorage

/// Snapshots and linearizable reads on a node's queue.
extension NodeHost {
    /// Starts a snapshot of the applied state. The map is copied here (a constant-time
    /// copy-on-write), serialized and written to a temporary file on a background queue, then
    /// renamed into place back on this queue, where the log prefix is cut and the core told.
    func beginSnapshot() {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let running, !running.snapshotInProgress else { return }
        let index = running.machine.appliedIndex
        guard index > running.raft.log.snapshotIndex else {
            answerSnapshotWaiters(running, .success(running.raft.log.snapshotIndex))
            return
        }
        let snapshotTerm = running.raft.log.term(at: index)!
        let values = running.machine.values
        let file = running.snapshotStore as? FileSnapshotStore
        running.snapshotInProgress = true
        let work: @Sendable () -> (Snapshot, Result<String?, StorageError>) = {
            let snapshot = Snapshot(index: index, term: snapshotTerm, data: KVStateMachine.serialize(values))
            let prepared: Result<String?, StorageError>
            if let file {
                do throws(StorageError) { prepared = .success(try file.prepare(snapshot)) } catch { prepared = .failure(error) }
            } else {
                prepared = .success(nil)
            }
            return (snapshot, prepared)
        }
        if values.count <= Self.inlineSnapshotKeys {
            // Small maps serialize in a few milliseconds: do it here, so a busy machine cannot
            // delay the snapshot while the log keeps growing.
            let (snapshot, prepared) = work()
            finishSnapshot(snapshot, keys: values.count, prepared: prepared, for: running)
            return
        }
        // Large maps serialize off the queue, at the nodes' own priority (a lower class starves
        // under load, and the log grows for as long as the snapshot waits).
        DispatchQueue.global(qos: .userInitiated).async {
            let (snapshot, prepared) = work()
            self.queue.async { self.finishSnapshot(snapshot, keys: values.count, prepared: prepared, for: running) }
        }
    }

    /// Maps up to this many keys are snapshotted on the node's queue.
    static let inlineSnapshotKeys = 20_000

    private func finishSnapshot(_ snapshot: Snapshot, keys: Int, prepared: Result<String?, StorageError>, for owner: RunningNode) {
        dispatchPrecondition(condition: .onQueue(queue))
        let file = owner.snapshotStore as? FileSnapshotStore
        guard let running, running === owner else {
            if case .success(let path?) = prepared { file?.discard(prepared: path) }
            return
        }
        running.snapshotInProgress = false
        let temporary: String?
        switch prepared {
        case .failure(let error):
            events.log(.error, node: id, "snapshot failed: \(error)")
            answerSnapshotWaiters(running, .failure(SnapshotFailure(reason: "\(error)")))
            return
        case .success(let path):
            temporary = path
        }
        guard snapshot.index > running.raft.log.snapshotIndex else {
            // A newer snapshot arrived from the leader meanwhile.
            if let temporary { file?.discard(prepared: temporary) }
            answerSnapshotWaiters(running, .success(running.raft.log.snapshotIndex))
            return
        }
        do {
            if let temporary, let file { try file.commit(prepared: temporary) } else { try running.snapshotStore.save(snapshot) }
            try running.logStore.compact(through: snapshot.index)
        } catch {
            stopRunning(reason: "storage failed while snapshotting (\(error))")
            return
        }
        running.raft.compact(through: snapshot.index, data: snapshot.data)
        metrics.snapshotsTaken += 1
        events.log(node: id, "snapshot taken through entry \(snapshot.index): \(keys) keys, \(snapshot.data.count) bytes; \(storage.logName(for: id)) now holds \(running.raft.log.entries.count) entries")
        answerSnapshotWaiters(running, .success(snapshot.index))
        publishStatus()
        snapshotIfDue(running)  // entries that arrived meanwhile may already call for the next one
    }

    private func answerSnapshotWaiters(_ running: RunningNode, _ result: Result<LogIndex, SnapshotFailure>) {
        let waiters = running.snapshotWaiters
        running.snapshotWaiters.removeAll()
        for waiter in waiters { waiter(result) }
    }

    /// Snapshots automatically once the log holds `snapshotEveryEntries` applied entries.
    func snapshotIfDue(_ running: RunningNode) {
        guard snapshotEveryEntries > 0, !running.snapshotInProgress,
              running.machine.appliedIndex - running.raft.log.snapshotIndex >= snapshotEveryEntries else { return }
        beginSnapshot()
    }

    /// Loads a snapshot received from the leader into the state machine.
    func installSnapshot(_ snapshot: Snapshot, _ running: RunningNode) -> Bool {
        do {
            running.machine = try KVStateMachine(restoring: snapshot.data, appliedIndex: snapshot.index)
        } catch {
            stopRunning(reason: "the leader's snapshot through entry \(snapshot.index) cannot be loaded (\(error))")
            return false
        }
        // Proposals this node accepted at or below the snapshot: their fate is inside it, unknown here.
        for index in running.pending.keys.sorted() where index <= snapshot.index {
            running.pending.removeValue(forKey: index)!.waiter.finish(.unknown)
        }
        running.confirmedReads.removeAll { entry in
            guard entry.index <= snapshot.index else { return false }
            entry.read.reply(.value(running.machine.get(entry.read.key)))
            return true
        }
        return true
    }

    // MARK: - Linearizable reads

    func enqueueRead(_ key: String, reply: @escaping @Sendable (LinearizableReadOutcome) -> Void) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let running, running.raft.isLeader else { return reply(.retry) }
        running.newReads.append(RunningNode.PendingRead(id: running.nextReadID, key: key, reply: reply))
        running.nextReadID += 1
        scheduleFlush()
    }

    /// Asks the core for one leadership round covering every read that arrived since the last flush.
    func askForReadRound(_ running: RunningNode) {
        guard !running.newReads.isEmpty else { return }
        let reads = running.newReads
        running.newReads.removeAll()
        guard running.raft.readIndex(ids: reads.map(\.id)) else {
            for read in reads { read.reply(.retry) }
            return
        }
        for read in reads { running.unconfirmedReads[read.id] = read }
    }

    /// Moves confirmed reads along and answers those the state machine has caught up with.
    func serveReads(_ states: [ReadState], _ running: RunningNode) {
        for state in states {
            if let read = running.unconfirmedReads.removeValue(forKey: state.id) {
                running.confirmedReads.append((state.index, read))
            }
        }
        guard !running.confirmedReads.isEmpty else { return }
        let applied = running.machine.appliedIndex
        running.confirmedReads.removeAll { entry in
            guard entry.index <= applied else { return false }
            entry.read.reply(.value(running.machine.get(entry.read.key)))
            return true
        }
    }

    /// After losing leadership, reads not yet confirmed will never be: send them elsewhere.
    func dropUnconfirmedReadsIfNotLeader(_ running: RunningNode) {
        guard !running.raft.isLeader, !running.unconfirmedReads.isEmpty else { return }
        for id in running.unconfirmedReads.keys.sorted() {
            running.unconfirmedReads[id]!.reply(.retry)
        }
        running.unconfirmedReads.removeAll()
    }
}
