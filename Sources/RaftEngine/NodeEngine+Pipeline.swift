import RaftCore
import RaftStorage

/// The one path that changes a node: queued proposals and reads go to the core, then every Ready
/// is worked off in the order `Ready` documents — snapshot and term/vote durable, a leader's
/// replication sent, the log written and synced, the core told, the other messages sent, entries
/// applied, clients answered.
extension NodeEngine {
    public func flush() {
        guard !isStopped else { return }
        appendWaitingProposals()
        askForReadRound()
        while raft.hasReady, !isStopped {
            let ready = coreTakeReady()
            if !ready.committedEntries.isEmpty, let observe = hooks.committed { observe(ready.committedEntries) }
            guard persistAndSend(ready) else { return }
            if let snapshot = ready.snapshot { beginInstall(snapshot) }
            applyOrDefer(ready.committedEntries)
            serveReads(ready.readStates)
            metrics.record(ready)
            for event in ready.events { hooks.log(event.isAlarming ? .warning : .info, event.description) }
        }
        dropReadsThatWillNotBeConfirmed()
        snapshotIfDue()
        runWatchers()
        recorder?.drain()
    }

    private func appendWaitingProposals() {
        guard !waiting.isEmpty else { return }
        let batch = waiting
        waiting.removeAll()
        switch corePropose(batch.map(\.command)) {
        case .accepted(let index, let term):
            metrics.proposals += batch.count
            let now = hooks.clock()
            for (offset, item) in batch.enumerated() {
                metrics.writeQueue.add(Int((now &- item.received) / 1000))
                pending[index + offset] = PendingWrite(term: term, finish: item.finish, appendedAt: now)
                item.appended(index + offset, term)
            }
        case .notLeader(let hint):
            for item in batch { item.finish(.notLeader(leaderHint: hint)) }
        }
    }

    /// Steps 1–4 of a Ready. Returns false when storage failed (the engine is then stopped).
    /// (`testOnly_pipelineFault` is nil outside tests; the two places it reorders are marked.)
    private func persistAndSend(_ ready: Ready) -> Bool {
        let started = hooks.clock()
        let fault = testOnly_pipelineFault
        do {
            if fault == .messagesBeforeHardState, !ready.messages.isEmpty { hooks.send(ready.messages) }  // test only: wrong
            if let snapshot = ready.snapshot {
                // From now on the core reads the snapshot back from the store when a follower
                // needs it, rather than keep the bytes in memory.
                let stored = try stores.snapshot.save(snapshot)
                raft.snapshotBytesStored(index: stored.index, as: stored.data)
            }
            if let hardState = ready.hardState { try stores.meta.save(hardState) }
            if !ready.earlyMessages.isEmpty { hooks.send(ready.earlyMessages) }
            if fault == .persistedBeforeLogWrite { announcePersisted(ready) }  // test only: wrong
            if ready.logReplaced {
                try stores.log.replace(with: ready.entries)
            } else {
                try stores.log.write(ready.entries)
            }
        } catch {
            fail("storage failed (\(error))")
            return false
        }
        if fault != .persistedBeforeLogWrite { announcePersisted(ready) }
        if !pending.isEmpty && !ready.entries.isEmpty {
            let now = hooks.clock()
            for entry in ready.entries {
                guard var write = pending[entry.index], write.durableAt == 0 else { continue }
                write.durableAt = now
                metrics.writeLocal.add(Int((now &- write.appendedAt) / 1000))
                pending[entry.index] = write
            }
        }
        if ready.needsPersisting {
            let micros = Int((hooks.clock() &- started) / 1000)
            metrics.fsyncs += 1
            metrics.fsyncLatency.add(micros)
            reportSlowDisk(micros: micros)
        }
        if !ready.messages.isEmpty, fault != .messagesBeforeHardState { hooks.send(ready.messages) }
        return true
    }

    /// Step 3's end: the core hears that the Ready's log change is durable.
    private func announcePersisted(_ ready: Ready) {
        if let last = ready.entries.last {
            corePersisted(through: last.index, term: last.term)
        } else if let snapshot = ready.snapshot, ready.logReplaced {
            corePersisted(through: snapshot.index, term: snapshot.term)
        }
    }

    /// A write slower than the heartbeat interval delays heartbeats and can cost elections (etcd
    /// warns the same way); said at most once a second.
    private func reportSlowDisk(micros: Int) {
        guard slowPersistWarningNanos > 0, UInt64(micros) * 1000 > slowPersistWarningNanos else { return }
        metrics.slowWrites += 1
        let now = hooks.clock()
        guard now &- lastSlowDiskReport >= 1_000_000_000 else { return }
        lastSlowDiskReport = now
        hooks.log(.warning, "slow disk: writing to disk took \(micros / 1000) ms, longer than the heartbeat interval (\(slowPersistWarningNanos / 1_000_000) ms); expect missed heartbeats and elections")
    }

    func apply(_ entries: [Entry]) {
        for entry in entries {
            var result: Output?
            if entry.data.isEmpty {
                machine.skip(to: entry.index)
            } else {
                do {
                    result = try machine.apply(command: entry.data, at: entry.index)
                    if let result, let observe = appliedObserver { observe(entry.index, result) }
                } catch {
                    hooks.log(.error, "entry \(entry.index) holds an unreadable command (\(error)); skipped")
                }
            }
            if let waiter = pending.removeValue(forKey: entry.index) {
                if waiter.term == entry.term, let result {
                    if waiter.durableAt > 0 { metrics.writeCommit.add(Int((hooks.clock() &- waiter.durableAt) / 1000)) }
                    waiter.finish(.applied(result))
                } else {
                    waiter.finish(.lost)
                }
            }
        }
        if let last = entries.last {
            hooks.log(.debug, entries.count == 1 ? "applied entry \(last.index)" : "applied entries \(entries[0].index)...\(last.index)")
        }
    }

    // MARK: - Linearizable reads

    /// Asks the core for one leadership round covering every read that arrived since the last flush.
    private func askForReadRound() {
        guard !newReads.isEmpty else { return }
        let reads = newReads
        newReads.removeAll()
        guard coreReadIndex(reads.map(\.id)) else {
            for read in reads { read.serve(nil) }
            return
        }
        let term = raft.term, leader = raft.leaderID
        for read in reads { unconfirmedReads[read.id] = AskedRead(read: read, term: term, leader: leader, askedAt: ticksElapsed) }
    }

    /// Moves confirmed reads along and answers those the state machine has caught up with.
    func serveReads(_ states: [ReadState]) {
        for state in states {
            // An unknown id is an answer that came too late: the read was given up on already.
            if let asked = unconfirmedReads.removeValue(forKey: state.id) {
                confirmedReads.append((state.index, asked.read))
            }
        }
        guard !confirmedReads.isEmpty else { return }
        let applied = machine.appliedIndex
        confirmedReads.removeAll { entry in
            guard entry.index <= applied else { return false }
            entry.read.serve(machine)
            return true
        }
    }

    /// Reads not yet confirmed that never will be are handed back (`serve(nil)`), to be asked
    /// again: those asked under another term or leader (leadership lost, or the leader a follower
    /// asked is gone), and a follower's reads its leader has left unanswered for too long.
    private func dropReadsThatWillNotBeConfirmed() {
        guard !unconfirmedReads.isEmpty else { return }
        let term = raft.term, leader = raft.leaderID, now = ticksElapsed, timeout = followerReadTimeoutTicks
        let expired = unconfirmedReads.keys.filter { id in
            let asked = unconfirmedReads[id]!
            return asked.term != term || asked.leader != leader || (leader != self.id && now - asked.askedAt >= timeout)
        }
        for id in expired.sorted() {
            unconfirmedReads.removeValue(forKey: id)!.read.serve(nil)
        }
    }

    func runWatchers() {
        guard !watchers.isEmpty else { return }
        let core = raft
        let current = watchers
        watchers.removeAll()
        let remaining = current.filter { !$0(core) }
        watchers = remaining + watchers  // a watcher may have added another
    }
}
