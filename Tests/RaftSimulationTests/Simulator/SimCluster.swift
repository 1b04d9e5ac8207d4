import RaftCore

/// The whole world of one simulation: nodes, network, time, crashes and client proposals, all
/// decided by one SplitMix64 seed. No threads, queues or real time: the same seed replays the
/// same run step for step. Every step ends with the safety checks.
final class SimCluster {
    static let unitsPerTick = 10

    let seed: UInt64
    let clusterSize: Int
    let config: RaftConfig
    private(set) var random: SplitMix64
    /// The run's generator, for drivers that draw their own decisions from the same seed.
    var randomSource: SplitMix64 {
        get { random }
        set { random = newValue }
    }
    private(set) var nodes: [SimNode]
    private(set) var now = 0
    private(set) var steps = 0
    private var queue = EventQueue()
    var faults = NetworkFaults.reliable
    private(set) var partition: Partition
    /// Nodes whose next write is cut short by a crash (see `crashDuringNextWrite`).
    private var crashMidWrite: [Bool]
    /// A node snapshots its state machine once it has applied this many entries past its last
    /// snapshot (0: never).
    var snapshotEvery = 0
    /// Chance that a node crashes after saving a snapshot but before cutting its log.
    var crashAfterSnapshotRate = 0.0
    /// Reads asked for and not yet answered: id → (node, committed prefix length when asked).
    private var pendingReads: [UInt64: (node: NodeID, committedWhenAsked: Int)] = [:]
    private var nextReadID: UInt64 = 1
    private(set) var readsAnswered = 0
    private(set) var snapshotsInstalled = 0
    private(set) var checker: SafetyChecker
    /// Commands proposed and accepted by some leader, by their text.
    private(set) var proposalCount = 0
    /// Counters for reports.
    private(set) var messagesSent = 0
    private(set) var appendRejections = 0
    /// When set, every step is described here (RAFT_SIM_TRACE=1).
    var trace: ((String) -> Void)?

    init(seed: UInt64, clusterSize: Int, config: RaftConfig = RaftConfig()) {
        self.seed = seed
        self.clusterSize = clusterSize
        self.config = config
        self.random = SplitMix64(seed: seed)
        self.nodes = (0..<clusterSize).map(SimNode.init(id:))
        self.partition = Partition(clusterSize: clusterSize)
        self.checker = SafetyChecker(clusterSize: clusterSize)
        self.crashMidWrite = Array(repeating: false, count: clusterSize)
        for node in 0..<clusterSize {
            start(node)
        }
    }

    var violation: String? { checker.violation }
    var ticks: Int { now / Self.unitsPerTick }

    // MARK: - Driving time

    /// Processes events until `ticks` more ticks have passed or a safety property broke.
    func run(ticks count: Int) {
        let end = now + count * Self.unitsPerTick
        while violation == nil, let time = queue.nextTime, time <= end {
            step()
        }
        if now < end { now = end }
    }

    /// Runs until `condition` holds (checked after each step), at most `ticks` ticks. Returns whether it held.
    @discardableResult
    func run(upTo count: Int, until condition: (SimCluster) -> Bool) -> Bool {
        let end = now + count * Self.unitsPerTick
        if condition(self) { return true }
        while violation == nil, let time = queue.nextTime, time <= end {
            step()
            if condition(self) { return true }
        }
        return false
    }

    /// One event: a node's tick or one message delivery, then the checks.
    func step() {
        guard let event = queue.pop() else { return }
        now = max(now, event.time)
        steps += 1
        switch event.kind {
        case .tick(let node, let incarnation):
            guard nodes[node].isAlive, nodes[node].incarnation == incarnation else { return }
            queue.push(at: now + Self.unitsPerTick, .tick(node: node, incarnation: incarnation))
            nodes[node].raft!.tick()
            afterInput(node)
        case .deliver(let envelope):
            guard nodes[envelope.to].isAlive, partition.canReach(envelope.from, envelope.to) else { return }
            trace?("t\(now) deliver \(envelope)")
            nodes[envelope.to].raft!.receive(envelope)
            afterInput(envelope.to)
        }
    }

    /// The runtime's Ready pipeline in miniature: persist, send, apply, then check.
    private func afterInput(_ node: NodeID) {
        guard var raft = nodes[node].raft else { return }
        let ready = raft.takeReady()
        nodes[node].raft = raft
        if ready.isEmpty { return }
        trace?("t\(now) node \(node) \(raft.roleKind) term \(raft.term): \(ready)\(ready.events.isEmpty ? "" : " " + ready.events.map(\.description).joined(separator: "; "))")
        if crashMidWrite[node] && (ready.hardState != nil || !ready.entries.isEmpty || ready.snapshot != nil) {
            // Power fails while this Ready is being written. The runtime writes the meta file
            // first (replaced atomically: old or new), then the log, so the crash keeps either
            // nothing, or the new meta and a prefix of the entries. Nothing is sent.
            crashMidWrite[node] = false
            if ready.hardState == nil || chance(0.7) {
                if let hardState = ready.hardState {
                    checker.checkHardStateWrite(node: node, old: nodes[node].durableHardState, new: hardState)
                }
                let logUntouched = ready.snapshot != nil && chance(0.5)
                nodes[node].persist(ready, tornAfter: Int.random(in: 0...ready.entries.count, using: &random),
                                    logUntouched: logUntouched)
            }
            trace?("t\(now) CRASH node \(node) in the middle of writing \(ready)")
            nodes[node].crash()
            return
        }
        if let hardState = ready.hardState {
            checker.checkHardStateWrite(node: node, old: nodes[node].durableHardState, new: hardState)
        }
        checker.checkWrittenEntries(node: node, entries: ready.entries, log: raft.log)
        nodes[node].persist(ready)
        for envelope in ready.messages {
            checker.checkOutgoing(envelope, durable: nodes[node])
            send(envelope)
        }
        let committedBefore = checker.committed.count
        checker.checkAfterStep(node: node, raft: raft)
        checker.checkCommittedEntriesAreStable(from: committedBefore, nodes: nodes)
        if let snapshot = ready.snapshot {
            checker.checkSnapshot(node: node, snapshot)
            nodes[node].appliedIndex = snapshot.index
            nodes[node].appliedCommands = SimNode.decode(snapshot.data)
            snapshotsInstalled += 1
        }
        checker.checkApplied(node: node, entries: ready.committedEntries, appliedIndex: nodes[node].appliedIndex)
        for entry in ready.committedEntries {
            nodes[node].appliedIndex = entry.index
            if !entry.isNoop { nodes[node].appliedCommands.append(entry.data) }
        }
        for state in ready.readStates {
            guard let asked = pendingReads.removeValue(forKey: state.id) else {
                checker.failExternally("node \(node) answered read \(state.id), which nobody asked for")
                continue
            }
            checker.checkReadPoint(node: node, state, committedWhenAsked: asked.committedWhenAsked)
            readsAnswered += 1
        }
        maybeSnapshot(node)
        for other in 0..<clusterSize {
            if let leader = nodes[other].raft, leader.isLeader {
                checker.checkLeaderCompleteness(node: other, raft: leader)
            }
        }
    }

    /// Takes a snapshot of the applied commands once enough entries accumulated, as the
    /// runtime does: save the snapshot, cut the log (unless a crash strikes in between), then
    /// tell the core.
    private func maybeSnapshot(_ node: NodeID) {
        guard snapshotEvery > 0, var raft = nodes[node].raft,
              raft.appliedIndex - raft.log.snapshotIndex >= snapshotEvery,
              nodes[node].appliedIndex == raft.appliedIndex else { return }
        let index = raft.appliedIndex
        let snapshot = Snapshot(index: index, term: raft.log.term(at: index)!, data: SimNode.encode(nodes[node].appliedCommands))
        checker.checkSnapshot(node: node, snapshot)
        if crashAfterSnapshotRate > 0 && chance(crashAfterSnapshotRate) {
            nodes[node].saveSnapshot(snapshot, compactLog: false)
            trace?("t\(now) CRASH node \(node) after saving \(snapshot), before cutting its log")
            nodes[node].crash()
            return
        }
        nodes[node].saveSnapshot(snapshot, compactLog: true)
        raft.compact(through: index, data: snapshot.data)
        nodes[node].raft = raft
        trace?("t\(now) node \(node) took \(snapshot)")
    }

    /// Asks `node` for a linearizable read point; returns false when it is not the leader.
    @discardableResult
    func read(at node: NodeID) -> Bool {
        guard var raft = nodes[node].raft else { return false }
        let id = nextReadID
        nextReadID += 1
        let accepted = raft.readIndex(id: id)
        nodes[node].raft = raft
        if accepted {
            pendingReads[id] = (node, checker.committed.count)
            trace?("t\(now) read \(id) at \(node)")
        }
        afterInput(node)
        return accepted
    }

    private func send(_ envelope: Envelope) {
        messagesSent += 1
        if case .appendResponse(let response) = envelope.message, !response.success { appendRejections += 1 }
        if faults.dropRate > 0 && chance(faults.dropRate) { return }
        let copies = faults.duplicateRate > 0 && chance(faults.duplicateRate) ? 2 : 1
        for _ in 0..<copies {
            var delay = Int.random(in: faults.minDelay...faults.maxDelay, using: &random)
            if faults.longDelayRate > 0 && chance(faults.longDelayRate) {
                delay = Int.random(in: faults.maxDelay...max(faults.maxDelay, faults.longDelay), using: &random)
            }
            queue.push(at: now + delay, .deliver(envelope))
        }
    }

    func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &random) < probability
    }

    // MARK: - Faults and clients

    private func start(_ node: NodeID) {
        crashMidWrite[node] = false
        nodes[node].restart(clusterSize: clusterSize, config: config, seed: random.next())
        checker.nodeRestarted(node)
        let phase = Int.random(in: 1...Self.unitsPerTick, using: &random)
        queue.push(at: now + phase, .tick(node: node, incarnation: nodes[node].incarnation))
    }

    /// Arms a crash that strikes while `node` writes its next Ready: part of it reaches the
    /// disk and none of its messages leave. Entries lost this way were never acknowledged.
    func crashDuringNextWrite(_ node: NodeID) {
        guard nodes[node].isAlive else { return }
        crashMidWrite[node] = true
    }

    /// Crashes `node` between steps: its memory is gone, its disk stays.
    func crash(_ node: NodeID) {
        guard nodes[node].isAlive else { return }
        trace?("t\(now) CRASH node \(node)")
        nodes[node].crash()
    }

    func restart(_ node: NodeID) {
        guard !nodes[node].isAlive else { return }
        trace?("t\(now) RESTART node \(node)")
        start(node)
    }

    func setPartition(_ groups: [[NodeID]]) {
        partition = Partition(groups: groups, clusterSize: clusterSize)
        trace?("t\(now) PARTITION \(partition)")
    }

    func healPartition() {
        partition = Partition(clusterSize: clusterSize)
        trace?("t\(now) HEAL")
    }

    /// Proposes `command` at `node`; counts it when a leader accepted it.
    @discardableResult
    func propose(at node: NodeID, _ command: String) -> ProposalResult? {
        guard var raft = nodes[node].raft else { return nil }
        let result = raft.propose(command)
        nodes[node].raft = raft
        if case .accepted = result { proposalCount += 1 }
        trace?("t\(now) propose \(command.debugDescription) at \(node): \(result)")
        afterInput(node)
        return result
    }

    // MARK: - Views

    var liveNodes: [NodeID] { (0..<clusterSize).filter { nodes[$0].isAlive } }

    func raft(_ node: NodeID) -> RaftNode? { nodes[node].raft }

    /// The live leader of the highest term, if any.
    var leader: NodeID? {
        var best: (node: NodeID, term: Term)?
        for node in liveNodes {
            if let raft = nodes[node].raft, raft.isLeader, raft.term > (best?.term ?? -1) {
                best = (node, raft.term)
            }
        }
        return best?.node
    }

    /// A leader that every live node follows, all in the same term.
    var stableLeader: NodeID? {
        guard let leader, let leaderTerm = nodes[leader].raft?.term else { return nil }
        for node in liveNodes {
            guard let raft = nodes[node].raft, raft.term == leaderTerm, raft.leaderID == leader else { return nil }
        }
        return leader
    }

    func appliedCommands(_ node: NodeID) -> [String] { nodes[node].appliedCommands }
    var committedPrefix: [Entry] { checker.committed }

    /// Brings every crashed node back, disarms pending crashes, heals partitions and makes the
    /// network reliable.
    func healEverything() {
        healPartition()
        faults = .reliable
        crashMidWrite = Array(repeating: false, count: clusterSize)
        crashAfterSnapshotRate = 0
        for node in 0..<clusterSize where !nodes[node].isAlive {
            restart(node)
        }
    }
}
