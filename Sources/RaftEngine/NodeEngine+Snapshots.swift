#if canImport(Glibc)
import Glibc
#endif
import RaftCore
import RaftStorage

/// Snapshots: taking one of the applied state (serialized off the engine's thread),
/// and loading one received from the leader.
extension NodeEngine {
    /// Starts a snapshot of the applied state. The state is frozen here (a cheap copy), then
    /// serialized straight into a temporary file, synced and renamed into place by the executor;
    /// back on the engine's thread only the core is told and the log's cut started. The core then
    /// reads the snapshot's bytes from that file when a follower needs them.
    func beginSnapshot() {
        guard !isStopped, !snapshotInProgress, restoring == nil else {
            if restoring != nil { answerSnapshotWaiters(.success(raft.latestSnapshotIndex)) }
            return
        }
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
        noteSnapshotThreadHold(since: started, "freezing the state")
        let work: @Sendable () -> Result<PreparedSnapshot?, StorageError> = {
            do throws(StorageError) {
                let prepared = try store.prepare(index: index, term: snapshotTerm, configuration: configuration) { sink in
                    try Machine.serialize(frozen, to: sink)
                }
                // A newer snapshot (one received from the leader) may be stored already.
                return .success(try store.commit(prepared) ? prepared : nil)
            } catch {
                return .failure(error)
            }
        }
        executor.offload(work) { [self] prepared in self.finishSnapshot(prepared, items: items) }
    }

    private func finishSnapshot(_ prepared: Result<PreparedSnapshot?, StorageError>, items: Int) {
        guard !isStopped else { return }
        let holdStarted = hooks.clock()
        defer { noteSnapshotThreadHold(since: holdStarted, "committing a snapshot") }
        snapshotInProgress = false
        let snapshot: Snapshot
        switch prepared {
        case .failure(let error):
            hooks.log(.error, "snapshot failed: \(error)")
            answerSnapshotWaiters(.failure(SnapshotFailure(reason: "\(error)")))
            return
        case .success(nil):
            answerSnapshotWaiters(.success(raft.latestSnapshotIndex))
            return
        case .success(let done?):
            snapshot = done.snapshot
        }
        let committing = hooks.clock()
        guard snapshot.index > raft.latestSnapshotIndex else {
            // A newer snapshot arrived from the leader meanwhile (and is the stored one).
            answerSnapshotWaiters(.success(raft.latestSnapshotIndex))
            return
        }
        var compacted: UInt64 = 0
        do {
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
        copyForLogCut(job, through: index, round: 1)
        return false
    }

    /// What may be left for the node's thread to copy (and sync) when a log cut is committed:
    /// more than this, and the copying runs again elsewhere first (up to `logCutRounds` rounds).
    static var logCutCatchUpBytes: Int { 64 << 10 }
    static var logCutRounds: Int { 6 }

    /// One round of a log cut's copying, elsewhere; then, on the node's thread, the commit, or
    /// another round for what was appended meanwhile.
    private func copyForLogCut(_ job: PreparedCompaction, through index: LogIndex, round: Int) {
        let work: @Sendable () -> Result<Void, StorageError> = {
            do throws(StorageError) { return .success(try job.run()) } catch { return .failure(error) }
        }
        executor.offload(work) { [self] outcome in
            let holdStarted = self.hooks.clock()
            var what = "cutting the log, round \(round)"
            defer { if !self.isStopped { self.noteSnapshotThreadHold(since: holdStarted, what) } }
            guard !self.isStopped else { return job.discard() }
            var finished = true
            defer {
                if finished {
                    self.logCutInProgress = false
                    if let answered = self.answerAfterLogCut {
                        self.answerAfterLogCut = nil
                        self.answerSnapshotWaiters(.success(answered))
                    }
                }
            }
            switch outcome {
            case .failure(let error):
                job.discard()
                self.hooks.log(.warning, "cutting the log file through entry \(index) failed (\(error)); it keeps those entries for now")
            case .success:
                let limit = round < Self.logCutRounds ? Self.logCutCatchUpBytes : .max
                do {
                    if try self.stores.log.commitCompaction(job, catchUpLimit: limit) == .catchUpFirst {
                        finished = false
                        self.copyForLogCut(job, through: index, round: round + 1)
                    } else {
                        what += ", the rename"
                    }
                } catch {
                    self.fail("storage failed while cutting the log (\(error))")
                }
            }
        }
    }

    private func answerSnapshotWaiters(_ result: Result<LogIndex, SnapshotFailure>) {
        let waiters = snapshotWaiters
        snapshotWaiters.removeAll()
        for waiter in waiters { waiter(result) }
    }

    /// Snapshots automatically once `snapshotInterval` applied entries follow the last snapshot.
    func snapshotIfDue() {
        guard snapshotEveryEntries > 0, !snapshotInProgress, restoring == nil,
              machine.appliedIndex - raft.latestSnapshotIndex >= snapshotInterval else { return }
        beginSnapshot()
    }

    /// Entries between automatic snapshots: `snapshotEveryEntries`, or for a large state a share
    /// of its items (`itemCount / snapshotScaling`). A snapshot costs time in proportion to the
    /// state, so spacing them in proportion to it keeps the cost per write the same at any size
    /// (with 16, serializing a million keys is spread over 62,500 writes), at the price of a
    /// log — on disk, in memory and replayed at a restart — that many entries long.
    var snapshotInterval: Int {
        guard snapshotScaling > 0 else { return snapshotEveryEntries }
        return max(snapshotEveryEntries, machine.itemCount / snapshotScaling)
    }

    /// Loads a snapshot into a new state machine off the engine's thread: one received from the
    /// leader (its file is already durable: step 1 of the Ready), or, at a start, the one on
    /// disk — seconds of parsing for a large state — while this node keeps answering heartbeats
    /// and appending entries. Until the new machine is swapped in, committed entries wait in
    /// `deferredCommits`, linearizable reads wait for their index, and the node serves no
    /// eventual reads (`isLoadingState`).
    func beginInstall(_ snapshot: Snapshot, atStart: Bool = false) {
        restoreGeneration += 1
        let generation = restoreGeneration
        restoring = generation
        drainingDeferred = false
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
                self.fail(atStart ? "the snapshot through entry \(index) on disk cannot be loaded (\(error))"
                                  : "the leader's snapshot through entry \(index) cannot be loaded (\(error))")
            case .success(let restored):
                self.finishInstall(restored, index: index, started: started, atStart: atStart)
            }
        }
    }

    /// A snapshot is being loaded into a new state machine: the one in `machine` is not this
    /// node's state yet (empty at a start, older after falling behind).
    public var isLoadingState: Bool { restoring != nil }

    private func finishInstall(_ restored: Machine, index: LogIndex, started: UInt64, atStart: Bool) {
        let holdStarted = hooks.clock()
        defer { noteSnapshotThreadHold(since: holdStarted, atStart ? "taking the loaded state" : "installing a snapshot") }
        restoring = nil
        // Freeing a large old state takes as long as building it: not on this thread.
        let replaced = Retired(machine)
        machine = restored
        executor.offload({
            replaced.release()
            // The old state's memory was freed in small pieces, much of it into other threads'
            // malloc arenas; without a trim the process keeps it (RSS grew by ~1 GB over five
            // snapshot installs of a million keys).
            releaseFreedMemory()
        }, then: { _ in })
        machineReplaced?(restored)
        // Proposals this node accepted at or below the snapshot: their fate is inside it, unknown here.
        for pendingIndex in pending.keys.sorted() where pendingIndex <= index {
            pending.removeValue(forKey: pendingIndex)!.finish(.unknown)
        }
        let waiting = deferredCommits.count
        let micros = Int((hooks.clock() &- started) / 1000)
        let items = machine.itemCount
        let applying = waiting == 0 ? "" : "; \(waiting) entries committed meanwhile are applied \(Self.deferredSlice) per turn"
        if atStart {
            metrics.stateLoadDuration.observe(microseconds: micros)
            hooks.log(.info, "loaded its state from the snapshot through entry \(index) (\(items) items) in \(micros / 1000) ms, off the node's thread\(applying)")
        } else {
            metrics.snapshotInstallDuration.observe(microseconds: micros)
            hooks.log(.info, "loaded the leader's snapshot through entry \(index) (\(items) items) in \(micros / 1000) ms, off the node's thread\(applying)")
        }
        drainingDeferred = true
        applyDeferredSlice(generation: restoreGeneration)
    }

    /// Entries applied per turn of the node's queue after a state loaded: tens of thousands may
    /// have been committed meanwhile (a restart replays the whole log after the snapshot), and
    /// applying them in one go held the thread 250-320 ms, long enough for an election (and
    /// 2,000 at a time, 5-18 ms a slice at a million keys).
    static var deferredSlice: Int { 500 }

    /// Applies the next slice of what was committed while the state loaded, then yields the
    /// node's queue (heartbeats, appends and votes go first) and comes back for the next one.
    private func applyDeferredSlice(generation: Int) {
        guard !isStopped, drainingDeferred, restoring == nil, generation == restoreGeneration else { return }
        let slice = Array(deferredCommits.prefix(Self.deferredSlice))
        deferredCommits.removeFirst(slice.count)
        apply(slice)
        serveReads([])
        guard deferredCommits.isEmpty else {
            executor.offload({}, then: { [self] _ in self.applyDeferredSlice(generation: generation) })
            return
        }
        drainingDeferred = false
        snapshotIfDue()
        runWatchers()
    }

    /// Counts a stretch of this thread spent on snapshot work; one longer than 10 ms is said, as
    /// it delays everything else the node does (heartbeats included).
    func noteSnapshotThreadHold(since started: UInt64, _ what: String) {
        let micros = Int((hooks.clock() &- started) / 1000)
        metrics.observeSnapshotThreadHold(microseconds: micros)
        if micros > 10_000 {
            hooks.log(.warning, "snapshot work held the node's thread for \(micros / 1000) ms (\(what))")
        }
    }

    /// Applies committed entries, or keeps them for after the snapshot being loaded.
    func applyOrDefer(_ entries: [Entry]) {
        guard !entries.isEmpty else { return }
        if restoring != nil || drainingDeferred {
            deferredCommits.append(contentsOf: entries)
        } else {
            apply(entries)
        }
    }
}

/// Gives memory the allocator holds free back to the system (glibc's `malloc_trim`, found at
/// run time: its header is not part of the Glibc module).
func releaseFreedMemory() {
    #if canImport(Glibc)
    typealias Trim = @convention(c) (Int) -> Int32
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") else { return }
    _ = unsafeBitCast(symbol, to: Trim.self)(0)
    #endif
}
