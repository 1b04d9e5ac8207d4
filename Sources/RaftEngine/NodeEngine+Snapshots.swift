import RaftCore
import RaftStorage

/// Snapshots: taking one of the applied state (serialized off the engine's thread),
/// and loading one received from the leader.
extension NodeEngine {
    /// Starts a snapshot of the applied state. The state is frozen here (a cheap copy), serialized
    /// and written to a temporary file by the executor, then committed back on the engine's
    /// thread, where the log prefix is cut and the core told.
    func beginSnapshot() {
        guard !isStopped, !snapshotInProgress else { return }
        let index = machine.appliedIndex
        guard index > raft.latestSnapshotIndex else {
            answerSnapshotWaiters(.success(raft.latestSnapshotIndex))
            return
        }
        let snapshotTerm = raft.log.term(at: index)!
        // A node that joined later may hold entries from before the first configuration it knows
        // (the founders' one is in their bootstrap files, not in the log): it cannot say which
        // configuration was in force there, so its snapshot says nothing rather than "nobody".
        let known = raft.configuration(at: index)
        let configuration = known == .empty ? nil : known
        let started = hooks.clock()
        let frozen = machine.freeze()
        let items = machine.itemCount
        let store = stores.snapshot
        snapshotInProgress = true
        snapshotStarted = started
        snapshotQueueNanos = hooks.clock() &- started
        let work: @Sendable () -> Result<PreparedSnapshot, StorageError> = {
            let snapshot = Snapshot(index: index, term: snapshotTerm, data: Machine.serialize(frozen), configuration: configuration)
            do throws(StorageError) { return .success(try store.prepare(snapshot)) } catch { return .failure(error) }
        }
        executor.offload(work) { [self] prepared in self.finishSnapshot(prepared, items: items) }
    }

    private func finishSnapshot(_ prepared: Result<PreparedSnapshot, StorageError>, items: Int) {
        guard !isStopped else {
            if case .success(let file) = prepared { stores.snapshot.discard(file) }
            return
        }
        snapshotInProgress = false
        let file: PreparedSnapshot
        switch prepared {
        case .failure(let error):
            hooks.log(.error, "snapshot failed: \(error)")
            answerSnapshotWaiters(.failure(SnapshotFailure(reason: "\(error)")))
            return
        case .success(let done):
            file = done
        }
        let snapshot = file.snapshot
        let committing = hooks.clock()
        guard snapshot.index > raft.latestSnapshotIndex else {
            // A newer snapshot arrived from the leader meanwhile.
            stores.snapshot.discard(file)
            answerSnapshotWaiters(.success(raft.latestSnapshotIndex))
            return
        }
        var compacted: UInt64 = 0
        do {
            try stores.snapshot.commit(file)
            compacted = hooks.clock()
            // The core keeps a tail of entries before the snapshot (for followers catching up);
            // the log file is cut as far as the core's log. Who asked for this snapshot hears back
            // once the file no longer holds what the cut removes.
            coreCompact(snapshot)
            answerAfterLogCut = snapshot.index
            if try cutLogFile(through: raft.log.snapshotIndex), answerAfterLogCut != nil {
                answerAfterLogCut = nil
                answerSnapshotWaiters(.success(snapshot.index))
            }
        } catch {
            fail("storage failed while snapshotting (\(error))")
            return
        }
        metrics.snapshotsTaken += 1
        let now = hooks.clock()
        metrics.snapshotDuration.observe(microseconds: Int((now &- snapshotStarted) / 1000))
        let onQueue = (snapshotQueueNanos + (now &- committing)) / 1_000_000
        hooks.log(.info, "snapshot taken through entry \(snapshot.index): \(items) items, \(snapshot.data.count) bytes in \((now &- snapshotStarted) / 1_000_000) ms (\(onQueue) ms of it on the node's thread, \((now &- compacted) / 1_000_000) ms cutting the log); the log now holds \(raft.log.entries.count) entries")
        snapshotIfDue()  // entries that arrived meanwhile may already call for the next one
    }

    /// Cuts the entries a snapshot covers from the log file: where the store allows, the copying
    /// runs elsewhere and only the final rename happens here; until then the file keeps them
    /// (a restart cuts them too). One cut at a time; a later snapshot cuts further.
    /// Returns whether the cut is done already.
    private func cutLogFile(through index: LogIndex) throws(StorageError) -> Bool {
        guard !logCutInProgress else { return true }
        guard let job = stores.log.prepareCompaction(through: index) else {
            try stores.log.compact(through: index)
            return true
        }
        logCutInProgress = true
        let work: @Sendable () -> Result<Void, StorageError> = {
            do throws(StorageError) { return .success(try job.run()) } catch { return .failure(error) }
        }
        executor.offload(work) { [self] outcome in
            self.logCutInProgress = false
            defer {
                if !self.isStopped, let answered = self.answerAfterLogCut {
                    self.answerAfterLogCut = nil
                    self.answerSnapshotWaiters(.success(answered))
                }
            }
            guard !self.isStopped else { return job.discard() }
            switch outcome {
            case .failure(let error):
                job.discard()
                self.hooks.log(.warning, "cutting the log file through entry \(index) failed (\(error)); it keeps those entries for now")
            case .success:
                do {
                    _ = try self.stores.log.commitCompaction(job)
                } catch {
                    self.fail("storage failed while cutting the log (\(error))")
                }
            }
        }
        return false
    }

    private func answerSnapshotWaiters(_ result: Result<LogIndex, SnapshotFailure>) {
        let waiters = snapshotWaiters
        snapshotWaiters.removeAll()
        for waiter in waiters { waiter(result) }
    }

    /// Snapshots automatically once the log holds `snapshotEveryEntries` applied entries.
    func snapshotIfDue() {
        guard snapshotEveryEntries > 0, !snapshotInProgress,
              machine.appliedIndex - raft.latestSnapshotIndex >= snapshotEveryEntries else { return }
        beginSnapshot()
    }

    /// Loads a snapshot received from the leader into the state machine. The file is already
    /// durable (step 1 of the Ready); parsing it into a new state machine — seconds for a large
    /// state — runs elsewhere, while this node keeps answering heartbeats and appending entries.
    /// Until the new machine is swapped in, committed entries wait in `deferredCommits`, reads
    /// wait for their index, and eventual reads see the old state (they may be stale anyway).
    func beginInstall(_ snapshot: Snapshot) {
        restoreGeneration += 1
        let generation = restoreGeneration
        restoring = generation
        // Everything deferred so far is at or below the old commit index, which the snapshot
        // passes (the core installs only snapshots beyond it): the snapshot holds it all.
        deferredCommits.removeAll()
        let data = snapshot.data
        let index = snapshot.index
        let started = hooks.clock()
        let work: @Sendable () -> Result<Machine, any Error> = {
            do { return .success(try Machine(restoring: data, appliedIndex: index)) } catch { return .failure(error) }
        }
        executor.offload(work) { [self] outcome in
            guard !self.isStopped, self.restoring == generation else { return }
            switch outcome {
            case .failure(let error):
                self.fail("the leader's snapshot through entry \(index) cannot be loaded (\(error))")
            case .success(let restored):
                self.finishInstall(restored, index: index, started: started)
            }
        }
    }

    private func finishInstall(_ restored: Machine, index: LogIndex, started: UInt64) {
        restoring = nil
        machine = restored
        machineReplaced?(restored)
        // Proposals this node accepted at or below the snapshot: their fate is inside it, unknown here.
        for pendingIndex in pending.keys.sorted() where pendingIndex <= index {
            pending.removeValue(forKey: pendingIndex)!.finish(.unknown)
        }
        let waiting = deferredCommits
        deferredCommits.removeAll()
        apply(waiting)
        serveReads([])
        metrics.snapshotInstallDuration.observe(microseconds: Int((hooks.clock() &- started) / 1000))
        let items = machine.itemCount
        hooks.log(.info, "loaded the leader's snapshot through entry \(index) (\(items) items) in \((hooks.clock() &- started) / 1_000_000) ms, off the node's thread; \(waiting.count) entries committed meanwhile applied")
        snapshotIfDue()
        runWatchers()
    }

    /// Applies committed entries, or keeps them for after the snapshot being loaded.
    func applyOrDefer(_ entries: [Entry]) {
        guard !entries.isEmpty else { return }
        if restoring != nil {
            deferredCommits.append(contentsOf: entries)
        } else {
            apply(entries)
        }
    }
}
