import Dispatch
import KVStore
import RaftCore
import RaftStorage

/// The one path that changes a node: input → core → Ready pipeline (persist → send → apply →
/// answer clients → publish status). Inputs that arrive while the queue is busy are handled
/// one after another and share a single flush, so many proposals or messages cost one fsync.
extension NodeHost {
    func tick() {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let running else { return }
        running.raft.tick()
        if running.raft.isLeader { lastLeaderContact = MonotonicClock.now() }
        scheduleFlush()
    }

    func receive(_ envelope: Envelope) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let running else { return }
        switch envelope.message {
        case .appendRequest where envelope.term >= running.raft.term:
            lastLeaderContact = MonotonicClock.now()
        case .appendResponse(let response) where !response.success && running.raft.isLeader:
            metrics.appendsRejected += 1
        default:
            break
        }
        running.raft.receive(envelope)
        scheduleFlush()
    }

    func enqueueProposal(_ command: String, waiter: WriteWaiter) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let running else { return waiter.finish(.nodeDown) }
        guard running.raft.isLeader else { return waiter.finish(.notLeader(leaderHint: running.raft.leaderID)) }
        running.waiting.append((command, waiter))
        scheduleFlush()
    }

    func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        queue.async { self.flush() }
    }

    /// Appends the waiting proposals as one batch, then runs the Ready pipeline.
    func flush() {
        dispatchPrecondition(condition: .onQueue(queue))
        flushScheduled = false
        guard let running else { return }
        if !running.waiting.isEmpty {
            let batch = running.waiting
            running.waiting.removeAll()
            switch running.raft.propose(batch: batch.map(\.command)) {
            case .accepted(let index, let term):
                metrics.proposals += batch.count
                for (offset, item) in batch.enumerated() {
                    running.pending[index + offset] = RunningNode.PendingWrite(term: term, waiter: item.waiter)
                    item.waiter.appended()
                }
            case .notLeader(let hint):
                for item in batch { item.waiter.finish(.notLeader(leaderHint: hint)) }
            }
        }
        askForReadRound(running)
        while running.raft.hasReady {
            let ready = running.raft.takeReady()
            // 1. Persist: snapshot, then meta (atomically), then the log; all durable before anything is sent.
            do {
                let started = MonotonicClock.now()
                if let snapshot = ready.snapshot { try running.snapshotStore.save(snapshot) }
                if let hardState = ready.hardState { try running.metaStore.save(hardState) }
                if ready.logReplaced {
                    try running.logStore.replace(with: ready.entries)
                } else {
                    try running.logStore.write(ready.entries)
                }
                if !ready.entries.isEmpty || ready.hardState != nil || ready.logReplaced {
                    metrics.fsyncs += 1
                    metrics.fsyncLatency.add(Int((MonotonicClock.now() - started) / 1000))
                }
            } catch {
                stopRunning(reason: "storage failed (\(error))")
                return
            }
            // 2. Send.
            if let registry {
                for message in ready.messages { registry.route(message) }
            }
            // 3. Apply (a received snapshot first) and answer the clients waiting on these entries.
            if let snapshot = ready.snapshot, !installSnapshot(snapshot, running) { return }
            apply(ready.committedEntries, running)
            // 4. Linearizable reads whose round is confirmed, once applied far enough.
            serveReads(ready.readStates, running)
            metrics.record(ready)
            unreportedCommits += ready.committedEntries.count
            for event in ready.events { report(event) }
        }
        reportCommitsPeriodically(running)
        dropUnconfirmedReadsIfNotLeader(running)
        snapshotIfDue(running)
        publishStatus()
    }

    func apply(_ entries: [Entry], _ running: RunningNode) {
        for entry in entries {
            let result: KVResult?
            if entry.isNoop {
                running.machine.skip(to: entry.index)
                result = nil
            } else {
                do {
                    result = running.machine.apply(try KVCommand.decodeFast(entry.data), at: entry.index)
                } catch {
                    events.log(.error, node: id, "entry \(entry.index) holds an unreadable command (\(error)); skipped")
                    running.machine.skip(to: entry.index)
                    result = nil
                }
            }
            if let pending = running.pending.removeValue(forKey: entry.index) {
                if pending.term == entry.term, let result {
                    pending.waiter.finish(.applied(result))
                } else {
                    pending.waiter.finish(.lost)
                }
            }
        }
        if let last = entries.last {
            events.log(.debug, node: id, entries.count == 1 ? "applied entry \(last.index)" : "applied entries \(entries[0].index)...\(last.index)")
        }
    }

    func report(_ event: RaftEvent) {
        events.log(node: id, event.description)
    }

    /// "entries committed", summarised: the leader reports at most once a second.
    func reportCommitsPeriodically(_ running: RunningNode) {
        guard unreportedCommits > 0, running.raft.isLeader else {
            if !running.raft.isLeader { unreportedCommits = 0 }
            return
        }
        let now = MonotonicClock.now()
        guard now - lastCommitReport >= 1_000_000_000 else { return }
        let count = unreportedCommits
        events.log(node: id, count == 1 ? "committed entry \(running.raft.commitIndex)"
                                        : "committed \(count) entries, through \(running.raft.commitIndex)")
        unreportedCommits = 0
        lastCommitReport = now
    }

    func publishStatus() {
        guard let registry else { return }
        guard let running else { return }
        let raft = running.raft
        let role: String
        switch raft.roleKind {
        case .follower: role = "follower"
        case .preCandidate: role = "precandidate"
        case .candidate: role = "candidate"
        case .leader: role = "leader"
        }
        registry.update(NodeStatus(id: id, role: role, term: raft.term, votedFor: raft.votedFor, leaderID: raft.leaderID,
                                   commitIndex: raft.commitIndex, lastApplied: running.machine.appliedIndex,
                                   logLength: raft.log.lastIndex, snapshotIndex: raft.log.snapshotIndex,
                                   entriesInLog: raft.log.entries.count, alive: true,
                                   lastLeaderContact: lastLeaderContact, failure: nil), metrics: metrics)
    }
}
