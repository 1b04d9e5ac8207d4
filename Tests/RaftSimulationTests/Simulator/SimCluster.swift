import FlightRecording
import RaftCore
import RaftEngine
import RaftVerification

/// The whole world of one simulation: nodes, network, time, crashes, disks, membership changes
/// and client proposals, all decided by one SplitMix64 seed. No threads, queues or real time: the
/// same seed replays the same run step for step. Each node is the production `NodeEngine` over a
/// simulated disk; every step ends with the safety checks. Generic over the state machine: the
/// list of commands (`SimCluster`) or the real key-value store (`KVSimCluster`).
final class Simulation<Machine: SimulatedMachine> {
    static var unitsPerTick: Int { SimTime.unitsPerTick }

    let seed: UInt64
    let config: RaftConfig
    private var random: SplitMix64
    /// The run's generator, for drivers that draw their own decisions from the same seed.
    var randomSource: SplitMix64 {
        get { random }
        set { random = newValue }
    }
    private(set) var nodes: [SimNode<Machine>] = []
    private(set) var now = 0
    private(set) var steps = 0
    private var queue = EventQueue()
    var faults = NetworkFaults.reliable
    private(set) var partition: Partition
    /// A node snapshots once it has applied this many entries past its last snapshot (0: never).
    var snapshotEvery = 0 {
        didSet { for node in nodes { node.engine?.snapshotEveryEntries = snapshotEvery } }
    }
    /// Snapshots saved during the current step, checked once the step's commits are known.
    var snapshotsToCheck: [(node: NodeID, snapshot: Snapshot)] = []
    /// Chance that a node crashes after saving a snapshot but before cutting its log.
    var crashAfterSnapshotRate = 0.0 {
        didSet { for node in nodes { node.disk.crashOnCompactionRate = crashAfterSnapshotRate } }
    }
    private var nextReadID: UInt64 = 1
    private(set) var readsAnswered = 0
    /// Reads a node handed back unanswered (it knew no leader, or gave up on it): ask again.
    private(set) var readsHandedBack = 0
    /// Reads answered by a node that did not lead when it was asked (the leader gave the read point).
    private(set) var followerReadsAnswered = 0
    private(set) var snapshotsInstalled = 0
    var checker: SafetyChecker
    private(set) var proposalCount = 0
    private(set) var messagesSent = 0
    private(set) var appendRejections = 0
    private(set) var membershipChanges = 0
    /// When set, every step is described here (RAFT_SIM_TRACE=1).
    var trace: ((String) -> Void)?
    /// State-machine safety: the digest of the state after each index, as the first node to
    /// reach that index had it (and what applying it answered there); every other node that
    /// reaches the index, by applying or by loading a snapshot, must have the same.
    private var stateAt: [LogIndex: (digest: StateDigest, node: NodeID)] = [:]
    private(set) var stateDigestsCompared = 0
    /// Runs after every step's checks with the node that stepped (a workload's own checks).
    var stepObserver: ((NodeID) -> Void)?
    /// Sees the state every linearizable read is served from.
    var readObserver: ((NodeID, Machine) -> Void)?
    /// Each node's flight recorder (across its restarts), when recording.
    private(set) var recorders: [NodeID: FlightRecorder] = [:]
    private let recordCapacity: Int?

    /// With `recordCapacity`, every node runs with a flight recorder keeping that many records.
    init(seed: UInt64, clusterSize: Int, config: RaftConfig = RaftConfig(), recordCapacity: Int? = nil) {
        self.seed = seed
        self.recordCapacity = recordCapacity
        self.config = config
        self.random = SplitMix64(seed: seed)
        self.partition = Partition()
        let bootstrap = ClusterConfiguration.voters(Array(0..<clusterSize))
        self.checker = SafetyChecker(bootstrap: bootstrap)
        if RandomizedRuns.environment("RAFT_SIM_TRACE") == "2" { trace = { print($0) } }
        for id in 0..<clusterSize {
            nodes.append(SimNode(id: id, disk: SimDisk(node: id, bootstrap: bootstrap, cluster: self)))
        }
        for id in 0..<clusterSize { start(id) }
    }

    var violation: String? { checker.violation }
    var ticks: Int { now / Self.unitsPerTick }
    var clusterSize: Int { nodes.count }

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
    func run(upTo count: Int, until condition: (Simulation<Machine>) -> Bool) -> Bool {
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
            guard let engine = nodes[node].engine, nodes[node].incarnation == incarnation else { return }
            queue.push(at: now + Self.unitsPerTick, .tick(node: node, incarnation: incarnation))
            guard nodes[node].disk.busyUntil <= now else { return }  // a node stuck in a slow write misses its ticks
            nodes[node].configurationBefore = engine.raft.configuration
            engine.tick()
            afterInput(node)
        case .deliver(let envelope):
            guard envelope.to < nodes.count, let engine = nodes[envelope.to].engine,
                  partition.canReach(envelope.from, envelope.to) else { return }
            let record = nodes[envelope.to]
            if deferIfBusy(envelope.to) {
                // The node is stuck in a slow write: it reads the message when the write is done.
                record.inbox.append(envelope)
                return
            }
            trace?("t\(now) deliver \(envelope)")
            nodes[envelope.to].configurationBefore = engine.raft.configuration
            engine.receive(envelope)
            afterInput(envelope.to)
        case .drainInbox(let node, let incarnation):
            let record = nodes[node]
            guard let engine = record.engine, record.incarnation == incarnation else { return }
            record.drainScheduled = false
            if deferIfBusy(node) { return }
            let messages = record.inbox
            record.inbox.removeAll()
            trace?("t\(now) node \(node) reads \(messages.count) messages that arrived during its slow write")
            record.configurationBefore = engine.raft.configuration
            for envelope in messages where partition.canReach(envelope.from, envelope.to) { engine.receive(envelope) }
            afterInput(node)
        case .offloaded(let node, let incarnation, let complete):
            let record = nodes[node]
            guard record.engine != nil, record.incarnation == incarnation else { return }  // it crashed meanwhile
            if record.disk.busyUntil > now {
                queue.push(at: record.disk.busyUntil, event.kind)
                return
            }
            trace?("t\(now) node \(node) finishes work done off its thread")
            record.configurationBefore = record.engine!.raft.configuration
            complete()
            afterInput(node)
        }
    }

    /// Runs `work` for `node` a little later in simulated time, as a real executor would on
    /// another thread: the node goes on ticking and receiving meanwhile.
    func offload(node: NodeID, incarnation: Int, _ complete: @escaping () -> Void) {
        let delay = Int.random(in: 1...(3 * Self.unitsPerTick), using: &random)
        queue.push(at: now + delay, .offloaded(node: node, incarnation: incarnation, complete: complete))
    }

    /// While `node` is stuck in a slow write, inputs wait: returns true (and makes sure the node
    /// catches up when the write is done) when it is busy.
    private func deferIfBusy(_ node: NodeID) -> Bool {
        let record = nodes[node]
        guard record.disk.busyUntil > now else { return false }
        if !record.drainScheduled {
            record.drainScheduled = true
            queue.push(at: record.disk.busyUntil, .drainInbox(node: node, incarnation: record.incarnation))
        }
        return true
    }

    /// The engine works off what the input produced — persist, send, apply — then the checks.
    private func afterInput(_ node: NodeID) {
        guard let engine = nodes[node].engine else { return }
        let committedBefore = checker.committed.count
        engine.flush()
        let disks = durableViews
        if let engine = nodes[node].engine {
            checker.checkAfterStep(node: node, raft: engine.raft)
            checkApplied(node, engine)
        }
        checker.checkCommittedEntriesAreStable(from: committedBefore, disks: disks)
        for (owner, snapshot) in snapshotsToCheck {
            checker.checkSnapshot(node: owner, snapshot, commands: Machine.commands(inSnapshot: (try? snapshot.data.bytes()) ?? []))
            checkSnapshotState(owner, snapshot)
        }
        snapshotsToCheck.removeAll()
        for other in nodes {
            if let leader = other.raft, leader.isLeader {
                checker.checkLeaderCompleteness(node: other.id, raft: leader)
            }
        }
        if let stepObserver, violation == nil { stepObserver(node) }
    }

    var durableViews: [NodeID: DurableView] {
        var views: [NodeID: DurableView] = [:]
        for node in nodes { views[node.id] = node.disk.view }
        return views
    }

    /// Gap-free apply of exactly the committed commands, read from the machine's applied list;
    /// then the state after each new index against every other node's.
    private func checkApplied(_ node: NodeID, _ engine: NodeEngine<Machine>) {
        let machine = engine.machine
        let record = nodes[node]
        if record.checkedMachineBase != machine.restoredIndex || record.checkedApplied > machine.applied.count
            || record.checkedDigests > machine.stateDigests.count {
            record.checkedMachineBase = machine.restoredIndex
            record.checkedApplied = 0
            record.checkedDigests = 0
        }
        checkStates(node, machine)
        guard record.checkedApplied < machine.applied.count else { return }
        let previous = record.checkedApplied > 0 ? machine.applied[record.checkedApplied - 1].index : machine.restoredIndex
        checker.checkApplied(node: node, applied: Array(machine.applied[record.checkedApplied...]), after: previous)
        record.checkedApplied = machine.applied.count
    }

    /// State-machine safety: the node's state after each index it reached since the last check
    /// is the state every other node had there (the first node to reach an index sets it).
    private func checkStates(_ node: NodeID, _ machine: Machine) {
        let record = nodes[node]
        let digests = machine.stateDigests
        guard record.checkedDigests < digests.count else { return }
        for digest in digests[record.checkedDigests...] {
            if let known = stateAt[digest.index] {
                stateDigestsCompared += 1
                if known.digest.state != digest.state {
                    checker.failExternally("state machine safety: node \(node)'s state after index \(digest.index) (digest \(hex(digest.state))) differs from node \(known.node)'s there (\(hex(known.digest.state)))")
                } else if let output = digest.output, let other = known.digest.output, output != other {
                    checker.failExternally("state machine safety: applying index \(digest.index) answered differently on node \(node) and node \(known.node)")
                } else if known.digest.output == nil && digest.output != nil {
                    stateAt[digest.index] = (digest, known.node)
                }
            } else {
                stateAt[digest.index] = (digest, node)
            }
        }
        record.checkedDigests = digests.count
    }

    /// A snapshot (taken, or received from the leader) holds the state every node had at its index.
    private func checkSnapshotState(_ node: NodeID, _ snapshot: Snapshot) {
        guard let digest = Machine.stateDigest(ofSnapshot: (try? snapshot.data.bytes()) ?? []), let known = stateAt[snapshot.index] else { return }
        stateDigestsCompared += 1
        if known.digest.state != digest {
            checker.failExternally("state machine safety: node \(node)'s snapshot through \(snapshot.index) holds state \(hex(digest)), but node \(known.node) had \(hex(known.digest.state)) there")
        }
    }

    private func hex(_ value: UInt64) -> String { String(value, radix: 16) }

    /// Sends what an engine hands out: the persist-before-send check, then the hostile network.
    private func transmit(_ envelopes: [Envelope], from node: NodeID) {
        let disk = nodes[node].disk
        let memory = nodes[node].raft?.log
        let delay = max(0, disk.busyUntil - now)
        for envelope in envelopes {
            checker.checkOutgoing(envelope, durable: disk.view, memory: memory)
            messagesSent += 1
            if case .appendResponse(let response) = envelope.message, !response.success { appendRejections += 1 }
            if faults.dropRate > 0 && chance(faults.dropRate) { continue }
            let copies = faults.duplicateRate > 0 && chance(faults.duplicateRate) ? 2 : 1
            for _ in 0..<copies {
                var latency = Int.random(in: faults.minDelay...faults.maxDelay, using: &random)
                if faults.longDelayRate > 0 && chance(faults.longDelayRate) {
                    latency = Int.random(in: faults.maxDelay...max(faults.maxDelay, faults.longDelay), using: &random)
                }
                queue.push(at: now + delay + latency, .deliver(envelope))
            }
        }
    }

    func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &random) < probability
    }

    // MARK: - Nodes

    private func start(_ node: NodeID) {
        let record = nodes[node]
        record.disk.crashArmed = false
        record.disk.starting = true
        defer { record.disk.starting = false }
        let hooks = EngineHooks(
            send: { [unowned self] envelopes in self.transmit(envelopes, from: node) },
            log: { [unowned self] _, text in
                if text.hasPrefix("installed the leader's snapshot") { self.snapshotsInstalled += 1 }
                self.trace?("t\(self.now) node \(node): \(text)")
            },
            stopped: { [unowned self] reason in
                self.trace?("t\(self.now) CRASH node \(node) (\(reason))")
                self.nodes[node].engine = nil
            },
            clock: { [unowned self] in UInt64(self.now) },
            committed: { [unowned self] entries in
                guard let raft = self.nodes[node].raft else { return }
                self.checker.checkCommitted(node: node, entries: entries, raft: raft,
                                            configurationBefore: self.nodes[node].configurationBefore, disks: self.durableViews)
            })
        do {
            let (engine, _) = try NodeEngine<Machine>.start(
                id: node, bootstrap: record.disk.bootstrap, raftConfig: config, stores: record.disk.stores, seed: random.next(),
                hooks: hooks, executor: SimExecutor(cluster: self, node: node, incarnation: record.incarnation + 1),
                snapshotEveryEntries: snapshotEvery, logName: "node \(node)'s log",
                recorder: recorder(for: node))
            record.engine = engine
        } catch {
            checker.failExternally("node \(node) cannot restart from its disk: \(error)")
            return
        }
        record.incarnation += 1
        record.inbox.removeAll()
        record.drainScheduled = false
        record.checkedMachineBase = -1
        record.checkedDigests = 0
        checker.nodeRestarted(node)
        if let engine = record.engine { checkStates(node, engine.machine) }  // what it restored from its disk
        let phase = Int.random(in: 1...Self.unitsPerTick, using: &random)
        queue.push(at: now + phase, .tick(node: node, incarnation: record.incarnation))
    }

    private func recorder(for node: NodeID) -> FlightRecorder? {
        guard let recordCapacity else { return nil }
        if let existing = recorders[node] { return existing }
        let recorder = FlightRecorder(node: node, capacity: recordCapacity, clock: { [unowned self] in UInt64(self.now) })
        recorders[node] = recorder
        return recorder
    }

    /// Every node's recording as it stands, with each running node's current core at the end.
    func recordings() -> [NodeTrace] {
        recorders.keys.sorted().map { node in
            NodeTrace(node: node, path: "node \(node)", records: recorders[node]!.recording(current: nodes[node].raft))
        }
    }

    /// Arms a crash that strikes during one of `node`'s next writes: part of it reaches the disk
    /// and the rest of that Ready is never done. Entries lost this way were never acknowledged.
    func crashDuringNextWrite(_ node: NodeID) {
        guard nodes[node].isAlive else { return }
        nodes[node].disk.crashArmed = true
    }

    /// Crashes `node` between steps: its memory is gone, its disk stays.
    func crash(_ node: NodeID) {
        guard let engine = nodes[node].engine else { return }
        trace?("t\(now) CRASH node \(node)")
        engine.stop()
        nodes[node].engine = nil
    }

    func restart(_ node: NodeID) {
        guard !nodes[node].isAlive, !nodes[node].retired else { return }
        trace?("t\(now) RESTART node \(node)")
        start(node)
    }

    /// Stops a removed node for good.
    func retire(_ node: NodeID) {
        crash(node)
        nodes[node].retired = true
        trace?("t\(now) RETIRE node \(node)")
    }

    func setPartition(_ groups: [[NodeID]]) {
        partition = Partition(groups: groups)
        trace?("t\(now) PARTITION \(partition)")
    }

    func healPartition() {
        partition = Partition()
        trace?("t\(now) HEAL")
    }

    /// Makes `node`'s disk full (every write fails) or slow, or clears that.
    func setDisk(_ node: NodeID, full: Bool, slowUnits: Int) {
        nodes[node].disk.full = full
        nodes[node].disk.slowUnits = slowUnits
        trace?("t\(now) DISK node \(node): \(full ? "full" : "ok")\(slowUnits > 0 ? ", slow \(slowUnits)" : "")")
    }

    // MARK: - Clients and membership

    /// Proposes `command` at `node`; returns what the node's core did with it. `finish` hears
    /// the proposal's fate, as a client of that node would (not at all when the node is down).
    @discardableResult
    func propose(at node: NodeID, _ command: String,
                 finish: @escaping (WriteOutcome<Machine.Output>) -> Void = { _ in }) -> ProposalResult? {
        guard let engine = nodes[node].engine else { return nil }
        var result: ProposalResult = .notLeader(leaderHint: engine.raft.leaderID)
        nodes[node].configurationBefore = engine.raft.configuration
        engine.propose(command, appended: { index, term in result = .accepted(index: index, term: term) }, finish: finish)
        if deferIfBusy(node) { return nil }  // appended with whatever else arrives before the write ends
        afterInput(node)
        if case .accepted = result { proposalCount += 1 }
        trace?("t\(now) propose \(command.debugDescription) at \(node): \(result)")
        return result
    }

    /// Asks `node` for a linearizable read — a leader confirms it, a follower asks its leader
    /// for the read point; returns false when the node is down. The read is checked against what
    /// was committed when it was asked, whenever it is served.
    @discardableResult
    func read(at node: NodeID) -> Bool {
        guard let engine = nodes[node].engine else { return false }
        let id = nextReadID
        nextReadID += 1
        let committedWhenAsked = checker.committed.count
        let atFollower = !engine.raft.isLeader
        nodes[node].configurationBefore = engine.raft.configuration
        engine.readLinearizable { [unowned self] machine in
            guard let machine else {
                self.readsHandedBack += 1
                return
            }
            self.checker.checkRead(node: node, id: id, servedAt: machine.appliedIndex, committedWhenAsked: committedWhenAsked)
            self.readsAnswered += 1
            if atFollower { self.followerReadsAnswered += 1 }
            self.readObserver?(node, machine)
        }
        trace?("t\(now) read \(id) at \(node)")
        if !deferIfBusy(node) { afterInput(node) }
        return true
    }

    /// Creates a new, empty node that waits to be added (it knows no configuration).
    func addNode() -> NodeID {
        let id = nodes.count
        let disk = SimDisk(node: id, bootstrap: .empty, cluster: self)
        disk.crashOnCompactionRate = crashAfterSnapshotRate
        nodes.append(SimNode(id: id, disk: disk))
        trace?("t\(now) NEW node \(id)")
        start(id)
        return id
    }

    /// Proposes a membership change at `node`.
    @discardableResult
    func changeMembership(at node: NodeID, _ change: ConfigurationChange) -> Result<(index: LogIndex, term: Term), ConfigurationChangeError> {
        guard let engine = nodes[node].engine else { return .failure(.notLeader(leaderHint: nil)) }
        nodes[node].configurationBefore = engine.raft.configuration
        let result = engine.proposeConfigurationChange(change)
        if case .success = result { membershipChanges += 1 }
        trace?("t\(now) \(change) at \(node): \(result)")
        afterInput(node)
        return result
    }

    @discardableResult
    func transferLeadership(from node: NodeID, to target: NodeID) -> Bool {
        guard let engine = nodes[node].engine else { return false }
        nodes[node].configurationBefore = engine.raft.configuration
        let result = engine.transferLeadership(to: target)
        trace?("t\(now) transfer \(node) -> \(target): \(result)")
        afterInput(node)
        if case .success = result { return true }
        return false
    }

    // MARK: - Views

    var liveNodes: [NodeID] { nodes.filter(\.isAlive).map(\.id) }

    func raft(_ node: NodeID) -> RaftNode? { nodes[node].raft }

    /// The live leader of the highest term, if any.
    var leader: NodeID? {
        var best: (node: NodeID, term: Term)?
        for node in nodes {
            if let raft = node.raft, raft.isLeader, raft.term > (best?.term ?? -1) {
                best = (node.id, raft.term)
            }
        }
        return best?.node
    }

    /// The members of the committed configuration that are running.
    var liveMembers: [NodeID] {
        let members = checker.committedConfiguration.ids
        return liveNodes.filter { members.contains($0) }
    }

    /// A leader that every live member follows, all in the same term.
    var stableLeader: NodeID? {
        guard let leader, let leaderTerm = nodes[leader].raft?.term else { return nil }
        for node in liveMembers {
            guard let raft = nodes[node].raft, raft.term == leaderTerm, raft.leaderID == leader else { return nil }
        }
        return leader
    }

    var committedPrefix: [Entry] { checker.committed }

    /// Brings every crashed node back (the retired stay down), disarms pending crashes, clears
    /// disk faults, heals partitions and makes the network reliable.
    func healEverything() {
        healPartition()
        faults = .reliable
        crashAfterSnapshotRate = 0
        for node in nodes {
            node.disk.crashArmed = false
            node.disk.full = false
            node.disk.slowUnits = 0
            if !node.isAlive && !node.retired { restart(node.id) }
        }
    }
}

/// The simulator over the list of commands, as the scenarios use it.
typealias SimCluster = Simulation<SimMachine>

extension Simulation where Machine == SimMachine {
    func appliedCommands(_ node: NodeID) -> [String] { nodes[node].appliedCommands }
}

/// Simulated time: a tick is this many units.
enum SimTime {
    static let unitsPerTick = 10
}

/// The simulator's executor: offloaded work (snapshots serialized, log cuts, snapshots loaded)
/// finishes at a later simulated moment, so every asynchronous path of the engine runs under
/// the safety checks, interleaved with ticks, messages and crashes.
///
/// @unchecked Sendable: the simulator is single-threaded; everything runs on the test's thread.
final class SimExecutor<Machine: SimulatedMachine>: EngineExecutor, @unchecked Sendable {
    unowned let cluster: Simulation<Machine>
    let node: NodeID
    let incarnation: Int

    init(cluster: Simulation<Machine>, node: NodeID, incarnation: Int) {
        self.cluster = cluster
        self.node = node
        self.incarnation = incarnation
    }

    func offload<T: Sendable>(_ work: @escaping @Sendable () -> T, then: @escaping @Sendable (T) -> Void) {
        cluster.offload(node: node, incarnation: incarnation) { then(work()) }
    }
}
