import FlightRecording
import RaftCore
import RaftEngine
import RaftVerification

/// Re-runs a recorded cluster through the real engine: for every recorded node, a `NodeEngine`
/// rebuilt from the recorded start (or checkpoint) is fed the recorded inputs — ticks, messages,
/// membership changes, transfers — merged across nodes in time order, and flushes where the
/// recording shows one. Every call the engine makes into its core must match the recording (the
/// same results, the same Ready digests, checkpoints equal field for field, snapshots with the
/// same bytes), its writes and sends must come in the order the recording implies, and the
/// simulator's safety checker watches the whole cluster — the disks as the engines wrote them,
/// the messages, the commits, the leaders.
///
/// One `step()` is one move: a record from outside the engine (a tick, a message, a restart), or
/// a whole flush, which is checked call by call (each recorded call counts as one step) but runs
/// to its end — an engine cannot stop half-way through a flush. Between moves, every node's
/// core, machine and disk, and the messages in flight, can be read.
///
/// The checks start once every voter the started nodes know of has a recording under way
/// (a recording that begins mid-run is checked from there; earlier commits are taken on trust).
public final class Replayer<Machine: ReplicatedStateMachine> {
    let nodes: [NodeReplay<Machine>]
    let checks: ReplayChecks

    /// Replays `traces` with engines over `machine`, the state machine the recorded engines ran.
    public init(traces: [NodeTrace], machine: Machine.Type, inFlightLimit: Int = 1_000) {
        let checks = ReplayChecks(inFlightLimit: inFlightLimit)
        self.checks = checks
        nodes = traces.sorted { $0.node < $1.node }.map { NodeReplay(trace: $0, checks: checks) }
    }

    /// Tests only: every engine the replay builds from now on breaks the pipeline's order this way.
    package var testOnly_pipelineFault: PipelineFault? {
        didSet { for node in nodes { node.pipelineFault = testOnly_pipelineFault } }
    }

    public var summary: ReplaySummary { checks.summary }
    /// The time of the last replayed record.
    public var now: UInt64 { checks.now }
    /// Sees each step as it is replayed.
    public var observe: ((ReplayStep) -> Void)? {
        get { checks.observe }
        set { checks.observe = newValue }
    }

    /// The replayed nodes' ids.
    public var nodeIDs: [NodeID] { nodes.map(\.id) }

    /// The engine's core of `node` now (nil: down, or not started yet).
    public func core(_ node: NodeID) -> RaftNode? { replay(of: node)?.core }

    /// The engine's state machine of `node` now (nil: down, or not started yet).
    public func machine(_ node: NodeID) -> Machine? { replay(of: node)?.machine }

    /// What `node`'s disk holds now, as its engine wrote it (nil: its recording has not begun).
    public func disk(_ node: NodeID) -> DurableView? {
        guard let replay = replay(of: node), replay.began else { return nil }
        return replay.disk.view()
    }

    /// Messages sent and not yet received by any replayed node, oldest first.
    public var inFlight: [InFlightMessage] { checks.inFlight }

    /// Nanoseconds since `node` last heard from a leader, at the current step (nil: never).
    public func sinceLeaderContact(_ node: NodeID) -> UInt64? {
        guard let last = replay(of: node)?.lastLeaderContact else { return nil }
        return now &- last
    }

    private func replay(of node: NodeID) -> NodeReplay<Machine>? { nodes.first { $0.id == node } }

    // MARK: - Running

    /// Replays one move (see the type's comment). Returns false when nothing was left to
    /// replay or a problem stopped the replay.
    @discardableResult
    public func step() -> Bool {
        guard checks.problem == nil else { return false }
        guard let node = nextNode() else {
            finish()
            return false
        }
        let committedBefore = checks.checker?.committed.count ?? 0
        let readiesBefore = checks.summary.readies
        node.move()
        if checks.summary.readies > readiesBefore { checkAfterStep(node, committedBefore: committedBefore) }
        if checks.checker == nil { startCheckingIfPossible() }
        return checks.problem == nil
    }

    /// Replays until the recording ends, a problem is found, or `limit` steps in all have run (a
    /// flush under way at the limit runs to its end). `observe` sees each step as it is replayed.
    @discardableResult
    public func run(until limit: Int? = nil, observe: ((ReplayStep) -> Void)? = nil) -> ReplaySummary {
        let previous = checks.observe
        if let observe { checks.observe = observe }
        defer { checks.observe = previous }
        while checks.problem == nil {
            if let limit, summary.steps >= limit { break }
            if !step() { break }
        }
        if checks.checker == nil && checks.summary.uncheckedReason == nil {
            checks.summary.uncheckedReason = "some voters were never recorded: \(unrecordedVoters().map(String.init).joined(separator: ", "))"
        }
        return summary
    }

    /// The node whose next record is earliest (ties: the lower node id).
    private func nextNode() -> NodeReplay<Machine>? {
        var best: (node: NodeReplay<Machine>, time: UInt64)?
        for node in nodes {
            guard let record = node.tape.next else { continue }
            if best == nil || record.time < best!.time { best = (node, record.time) }
        }
        return best?.node
    }

    private func finish() {
        checks.summary.finished = checks.problem == nil
    }

    // MARK: - The checks

    /// The checks after a move that took a Ready: the core's invariants and terms, one leader per
    /// term, committed entries stable on the disks, leaders complete.
    private func checkAfterStep(_ node: NodeReplay<Machine>, committedBefore: Int) {
        guard checks.checker != nil, checks.problem == nil, let core = node.core else { return }
        checks.checker!.checkAfterStep(node: node.id, raft: core)
        let from = min(committedBefore, checks.checker!.committed.count)
        checks.checker!.checkCommittedEntriesAreStable(from: from, disks: checks.durableViews())
        for other in nodes {
            if let leader = other.core, leader.isLeader { checks.checker!.checkLeaderCompleteness(node: other.id, raft: leader) }
        }
        checks.noteViolation()
    }

    /// Voters named by the started nodes' configurations that have no recording under way.
    private func unrecordedVoters() -> [NodeID] {
        var voters: Set<NodeID> = []
        for node in nodes {
            if let core = node.core { voters.formUnion(core.configuration.voters) }
        }
        let recorded = Set(nodes.filter(\.began).map(\.id))
        return voters.subtracting(recorded).sorted()
    }

    /// The checks begin once every voter known to the started nodes is being replayed: from the
    /// highest commit index among them, which is taken on trust.
    private func startCheckingIfPossible() {
        let started = nodes.compactMap { node in node.core.map { (id: node.id, core: $0) } }
        // A node waiting to be added knows no voters; the checks need a real configuration.
        guard started.contains(where: { !$0.core.configuration.voters.isEmpty }), unrecordedVoters().isEmpty else { return }
        let furthest = started.max { $0.core.commitIndex < $1.core.commitIndex }!.core
        checks.checker = SafetyChecker(committedThrough: furthest.commitIndex, configuration: furthest.configuration(at: furthest.commitIndex))
        checks.summary.checkedFromStep = checks.summary.steps
        checks.summary.trustedThrough = furthest.commitIndex
        for node in started { checks.checker!.nodeRestarted(node.id) }
    }
}
