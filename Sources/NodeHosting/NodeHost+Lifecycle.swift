import Dispatch
import KVStore
import RaftCore
import RaftEngine
import RaftStorage
import RuntimeSupport

/// Starting, running and stopping a node on its queue.
extension NodeHost {
    /// Loads meta, snapshot and log, builds the engine and starts the timer. Returns why it
    /// failed, if it did.
    func start() -> String? {
        dispatchPrecondition(condition: .onQueue(queue))
        let seed = settings.seed.map { $0 &+ UInt64(id) &+ UInt64(restarts) &* 7919 } ?? UInt64.random(in: .min ... .max)
        let logName = storage.logName(for: id)
        let hooks = EngineHooks(
            send: { [weak self] envelopes in self?.outlet?.route(envelopes) },
            log: { [weak self] level, text in self?.report(level, text) },
            stopped: { [weak self] reason in self?.engineFailed(reason) },
            clock: { MonotonicClock.now() })
        if settings.recordContinuously, traceWriter == nil, let recorder {
            try? settings.traceDirectory.create()
            let writer = TraceFileWriter(node: id, path: settings.traceDirectory.tracePath(node: id), events: events)
            recorder.sink = writer
            traceWriter = writer
        }
        let started: (KVEngine, LoadReport)
        do {
            let bootstrap = try storage.bootstrap(for: id, proposing: settings.bootstrap)
            started = try KVEngine.start(id: id, bootstrap: bootstrap, raftConfig: settings.raftConfig,
                                         stores: storage.stores(for: id), seed: seed, hooks: hooks,
                                         executor: DispatchExecutor(queue: queue),
                                         snapshotEveryEntries: settings.snapshotEveryEntries, logName: logName,
                                         recorder: recorder)
        } catch {
            let reason = "\(error)"
            failure = reason
            restartWhenDiskWorks = false
            events.log(.error, node: id, "cannot start: \(reason); this node stays down while the others serve")
            publishDown(configuration: .empty)
            return reason
        }
        let (engine, loaded) = started
        engine.metrics = carriedMetrics
        watchHub.reset(at: engine.machine.revision, reason: nil)
        engine.appliedObserver = { [unowned self] _, applied in
            if !applied.events.isEmpty { self.pendingEvents.append(contentsOf: applied.events) }
            if case .lease(let lease, let ttlMs) = applied.result, self.leaseKeeper.leading {
                self.leaseKeeper.granted(lease, ttlMs: ttlMs, now: MonotonicClock.now())
            }
        }
        engine.machineReplaced = { [unowned self] machine in
            self.pendingEvents.removeAll()
            self.leaseKeeper.storeReplaced()
            self.watchHub.reset(at: machine.revision, reason: "node \(self.id) loaded a snapshot from the leader and skipped over these changes")
        }
        engine.slowPersistWarningNanos = settings.slowWriteWarningNanos
        engine.snapshotScaling = settings.snapshotScaling
        self.engine = engine
        failure = nil
        restartWhenDiskWorks = false
        restarts += 1
        lastCommitIndex = engine.raft.commitIndex
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.setEventHandler { [weak self] in self?.timerFired() }
        self.timer = timer
        scheduleTimer()
        timer.resume()
        let torn = loaded.droppedTornTail ? " (dropped a torn final line)" : ""
        let stale = loaded.droppedStaleSuffix ? " (dropped entries a later snapshot replaced)" : ""
        let fromSnapshot = loaded.snapshotIndex.map { "restored a snapshot through entry \($0) (\(loaded.snapshotBytes) bytes, its state loading in the background), " } ?? ""
        let vote = loaded.hardState.votedFor.map(String.init) ?? "nobody"
        events.log(node: id, "started: \(fromSnapshot)replayed \(loaded.entriesReplayed) entries from \(logName)\(torn)\(stale); term \(loaded.hardState.term), voted for \(vote); \(engine.raft.configuration)")
        publishStatus()
        return nil
    }

    /// Stops the node (kill, or a failure): timer, engine, files.
    func stopRunning(reason: String) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let engine else { return }
        timer?.cancel()
        timer = nil
        carriedMetrics = engine.metrics
        engine.stop(reason: reason)
        self.engine = nil
        flushScheduled = false
        pendingEvents.removeAll()
        watchHub.endAll("node \(id) went down")
        leaseKeeper.forget()
        events.log(.warning, node: id, "\(reason): timer stopped, memory dropped; \(engine.raft.log.lastIndex) entries remain on disk")
        publishDown(configuration: engine.raft.configuration)
    }

    /// Tells the registry the node is down, and why.
    func publishDown(configuration: ClusterConfiguration) {
        var status = NodeStatus.down(id, failure: failure, configuration: configuration)
        status.diskFault = diskFaultDescription
        registry?.update(status)
    }

    /// The injected fault of this node's disk, in words (nil: none).
    var diskFaultDescription: String? {
        guard let disk else { return nil }
        if disk.full { return "full" }
        let slow = disk.slowSyncMs
        return slow > 0 ? "slow \(slow) ms" : nil
    }

    /// The engine stopped itself because a write failed: nothing in memory can be trusted to
    /// match the disk, so the node goes down, acknowledging nothing more. It comes back by itself
    /// once the disk takes writes again (after `heal` for an injected full disk).
    private func engineFailed(_ reason: String) {
        dispatchPrecondition(condition: .onQueue(queue))
        failure = reason
        events.log(.error, node: id, "\(reason); stopping rather than acknowledging what is not on disk")
        stopRunning(reason: "storage failure")
        restartWhenDiskWorks = true
        retryAfterDiskFailure()
    }

    /// Tries to start again every few seconds while the disk is not (known to be) full.
    private func retryAfterDiskFailure() {
        queue.asyncAfter(deadline: .now() + .seconds(3)) { [weak self] in
            guard let self, self.engine == nil, self.restartWhenDiskWorks else { return }
            if self.disk?.full == true { return self.retryAfterDiskFailure() }
            self.events.log(node: self.id, "retrying after the storage failure")
            if self.start() != nil { self.retryAfterDiskFailure() }
        }
    }

    /// Disk faults were cleared (`heal`): a node a failing disk took down starts again.
    public func diskHealed() {
        queue.async {
            guard self.engine == nil, self.restartWhenDiskWorks else { return }
            self.events.log(node: self.id, "disk healed: restarting from the files")
            _ = self.start()
        }
    }

    /// (Re)arms the timer at the tick period, stretched by slow motion.
    func scheduleTimer() {
        guard let timer else { return }
        let tick = Int(settings.tickNanos) * tickScale
        timer.schedule(deadline: .now() + .nanoseconds(tick), repeating: .nanoseconds(tick), leeway: .nanoseconds(tick / 10))
    }

    private func timerFired() {
        dispatchPrecondition(condition: .onQueue(queue))
        guard ticking, let engine else { return }
        engine.tick()
        if engine.raft.isLeader { lastLeaderContact = MonotonicClock.now() }
        checkLeases(engine)
        scheduleFlush()
    }

    func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        queue.async { self.flush() }
    }

    func flush() {
        dispatchPrecondition(condition: .onQueue(queue))
        flushScheduled = false
        guard let engine else { return }
        engine.flush()
        guard self.engine === engine else { return }  // it failed during the flush
        if !pendingEvents.isEmpty {
            watchHub.publish(pendingEvents, revision: engine.machine.revision)
            pendingEvents.removeAll(keepingCapacity: true)
        }
        reportCommitsPeriodically(engine)
        reportMembershipChange(engine)
        publishStatus()
    }

    func report(_ level: EngineLogLevel, _ text: String) {
        switch level {
        case .debug: events.log(.debug, node: id, text)
        case .info: events.log(.info, node: id, text)
        case .warning: events.log(.warning, node: id, text)
        case .error: events.log(.error, node: id, text)
        }
    }

    /// Says so once when this node leaves the committed configuration, or is added to it.
    private func reportMembershipChange(_ engine: KVEngine) {
        let member = engine.raft.committedConfiguration.contains(id)
        defer { wasCommittedMember = member }
        guard let was = wasCommittedMember, was != member else { return }
        if member {
            events.log(node: id, "is now a member of the cluster (\(engine.raft.committedConfiguration))")
        } else {
            events.log(.warning, node: id, "was removed from the cluster: it no longer votes or campaigns; stop it, or add it back with add \(id)")
        }
    }

    /// "entries committed", summarised: the leader reports at most once a second.
    private func reportCommitsPeriodically(_ engine: KVEngine) {
        let commit = engine.raft.commitIndex
        defer { lastCommitIndex = commit }
        guard engine.raft.isLeader else {
            unreportedCommits = 0
            return
        }
        unreportedCommits += max(0, commit - lastCommitIndex)
        guard unreportedCommits > 0 else { return }
        let now = MonotonicClock.now()
        guard now - lastCommitReport >= 1_000_000_000 else { return }
        events.log(node: id, unreportedCommits == 1 ? "committed entry \(commit)" : "committed \(unreportedCommits) entries, through \(commit)")
        unreportedCommits = 0
        lastCommitReport = now
    }

    func publishStatus() {
        guard let registry, let engine else { return }
        let raft = engine.raft
        let role: String
        switch raft.roleKind {
        case .follower: role = "follower"
        case .preCandidate: role = "precandidate"
        case .candidate: role = "candidate"
        case .leader: role = "leader"
        }
        var status = NodeStatus(id: id, role: role, term: raft.term, votedFor: raft.votedFor, leaderID: raft.leaderID,
                                   commitIndex: raft.commitIndex, lastApplied: engine.machine.appliedIndex,
                                   logLength: raft.log.lastIndex, snapshotIndex: raft.latestSnapshotIndex,
                                   entriesInLog: raft.log.entries.count, alive: true, lastLeaderContact: lastLeaderContact,
                                   failure: nil, configuration: raft.configuration, configurationIndex: raft.configurationIndex,
                                   configurationCommitted: !raft.configurationChangePending,
                                   electionElapsed: raft.electionElapsed, electionTimeout: raft.electionTimeout,
                                   replication: raft.replicationStatus, transferee: raft.transferee,
                                   diskFault: diskFaultDescription)
        status.storeRevision = engine.machine.revision
        status.keyCount = engine.machine.itemCount
        status.sessionCount = engine.machine.sessionCount
        status.leaseCount = engine.machine.state.leases.count
        status.leasesExpired = leaseKeeper.expired
        status.followerReads = true
        registry.update(status, metrics: engine.metrics)
    }
}

/// Runs slow engine work on a global queue and comes back on the node's queue.
struct DispatchExecutor: EngineExecutor {
    let queue: DispatchQueue

    func offload<T: Sendable>(_ work: @escaping @Sendable () -> T, then: @escaping @Sendable (T) -> Void) {
        // At the nodes' own priority: a lower class starves under load, and the log grows for
        // as long as the snapshot waits.
        DispatchQueue.global(qos: .userInitiated).async {
            let result = work()
            queue.async { then(result) }
        }
    }
}
