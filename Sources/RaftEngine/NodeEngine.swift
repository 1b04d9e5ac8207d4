import RaftCore
import FlightRecording
import RaftStorage

/// One live node without threads or clocks: the core (`RaftNode`), its stores, the state machine,
/// the clients waiting on it, and the one pipeline that turns the core's `Ready` into work —
/// persist, send, apply, answer. Whoever owns it (a DispatchQueue and timer in the server, an
/// event loop in the simulator) calls the inputs below and then `flush()`, always from one
/// thread at a time. Inputs that arrive between flushes share one flush: many proposals, one
/// fsync. After `stop` (or a storage failure) it is dead; a restart builds a new one from disk.
///
/// @unchecked Sendable: confined to its owner's thread (the owner says which).
public final class NodeEngine<Machine: ReplicatedStateMachine>: @unchecked Sendable {
    public typealias Output = Machine.Output

    public let id: NodeID
    public internal(set) var raft: RaftNode
    let stores: NodeStores
    public internal(set) var machine: Machine
    let hooks: EngineHooks
    let executor: EngineExecutor
    /// Snapshot once this many applied entries follow the last snapshot (0: only on request).
    public var snapshotEveryEntries: Int
    /// For a large state, wait at least `itemCount / snapshotScaling` entries (0: never longer
    /// than `snapshotEveryEntries`); see `snapshotInterval`.
    public var snapshotScaling = 0
    /// Writing one Ready taking longer than this (nanoseconds) is reported as a slow disk (0: never).
    public var slowPersistWarningNanos: UInt64 = 0
    public var metrics = NodeMetrics()
    /// The engine stopped (storage failure or `stop`); nothing more happens.
    public internal(set) var isStopped = false
    /// Hears every call into the core (nil: not recording): a flight recorder, or a replay's checker.
    public internal(set) var recorder: (any CoreRecorder)?
    /// Test-only: breaks the pipeline's order on purpose (nil, always, outside tests), so a test
    /// can show that a replay of a recording made in the right order catches it.
    package var testOnly_pipelineFault: PipelineFault?
    /// Sees what every applied command produced, in log order (watchers of the state machine).
    public var appliedObserver: ((LogIndex, Output) -> Void)?
    /// The state machine was replaced by a snapshot from the leader: whatever was derived from
    /// the entries applied so far has a gap now.
    public var machineReplaced: ((Machine) -> Void)?

    /// Proposals since the last flush, appended together (group commit).
    var waiting: [ProposalWaiter] = []
    /// Appended proposals by log index, waiting to be applied (or overwritten).
    var pending: [LogIndex: PendingWrite] = [:]
    /// Linearizable reads: new ones (asked at the next flush), ones waiting for the leadership
    /// round (this node's, or its leader's when it follows), and confirmed ones waiting for the
    /// state machine to reach their index.
    var newReads: [PendingRead] = []
    var unconfirmedReads: [UInt64: AskedRead] = [:]
    var confirmedReads: [(index: LogIndex, read: PendingRead)] = []
    /// Read ids never repeat, not even across restarts (a leader's answer to a read asked before
    /// a crash may arrive after it): `start` begins them at a number drawn from the node's seed.
    var nextReadID: UInt64 = 1
    /// Ticks since the engine started: how long a follower's reads have waited for their leader.
    var ticksElapsed = 0
    /// A follower gives up on reads its leader has not answered within this many ticks (a lost
    /// message, a leader cut off from the quorum that has not noticed yet); the runtime asks again.
    public var followerReadTimeoutTicks: Int
    /// Called after every flush with the core; each returns true once it is done with.
    var watchers: [(RaftNode) -> Bool] = []
    /// A snapshot is being serialized; who waits for it.
    var snapshotInProgress = false
    var snapshotWaiters: [(Result<LogIndex, SnapshotFailure>) -> Void] = []
    /// When the snapshot in progress began, and how long the engine's thread spent on it so far.
    var snapshotStarted: UInt64 = 0
    /// The log file's covered prefix is being cut elsewhere.
    var logCutInProgress = false
    /// A snapshot from the leader is being parsed elsewhere (its number), and the entries
    /// committed meanwhile, to apply once it is in place.
    var restoring: Int?
    var restoreGeneration = 0
    var deferredCommits: [Entry] = []
    /// The entries committed while a state loaded are being applied a slice per turn of the
    /// node's queue; entries committed meanwhile join the end of `deferredCommits`.
    var drainingDeferred = false
    /// The snapshot whose waiters hear back when the cut in progress is done.
    var answerAfterLogCut: LogIndex?
    var snapshotQueueNanos: UInt64 = 0
    var lastSlowDiskReport: UInt64 = 0

    struct ProposalWaiter {
        var command: String
        var appended: (LogIndex, Term) -> Void
        var finish: (WriteOutcome<Output>) -> Void
        /// When it reached the node (monotonic nanoseconds), for the write-path figures.
        var received: UInt64
    }

    struct PendingWrite {
        var term: Term
        var finish: (WriteOutcome<Output>) -> Void
        var appendedAt: UInt64
        var durableAt: UInt64 = 0
    }

    struct PendingRead {
        var id: UInt64
        /// Runs with the state machine once the read is safe; nil: this node cannot serve it.
        var serve: (Machine?) -> Void
    }

    /// A read the core took: who was to confirm it (this node leading, or its leader), in which
    /// term, and when it was asked. A change of term or leader means the answer will never come.
    struct AskedRead {
        var read: PendingRead
        var term: Term
        var leader: NodeID?
        var askedAt: Int
    }

    /// An engine around a core that is already built — by `start`, from what the stores hold, or
    /// by a replay, from a recorded state — with `machine` holding what the core has applied.
    package init(raft: RaftNode, stores: NodeStores, machine: Machine, hooks: EngineHooks, executor: EngineExecutor,
                 snapshotEveryEntries: Int, recorder: (any CoreRecorder)? = nil) {
        self.id = raft.id
        self.recorder = recorder
        self.raft = raft
        self.stores = stores
        self.machine = machine
        self.hooks = hooks
        self.executor = executor
        self.snapshotEveryEntries = snapshotEveryEntries
        self.followerReadTimeoutTicks = raft.config.electionTicksMax
    }

    // MARK: - Inputs (then call flush)

    public func tick() {
        guard !isStopped else { return }
        ticksElapsed += 1
        coreTick()
    }

    public func receive(_ envelope: Envelope) {
        guard !isStopped else { return }
        if case .appendResponse(let response) = envelope.message, !response.success, raft.isLeader {
            metrics.appendsRejected += 1
        }
        coreReceive(envelope)
    }

    /// Queues a command for the next flush. `appended` runs (with the entry's index and term) if
    /// a leader appends it; `finish` runs exactly once with its fate.
    public func propose(_ command: String, appended: @escaping (LogIndex, Term) -> Void = { _, _ in },
                        finish: @escaping (WriteOutcome<Output>) -> Void) {
        guard !isStopped else { return finish(.nodeDown) }
        guard raft.isLeader, raft.transferee == nil else { return finish(.notLeader(leaderHint: raft.isLeader ? nil : raft.leaderID)) }
        queueProposal(command, appended: appended, finish: finish)
    }

    /// Queues a command for the next flush without the leadership check `propose` makes first,
    /// for a caller that knows the check passed when the command arrived: a replay queues what a
    /// recording shows the engine proposed (the moment of the check is not recorded).
    package func queueProposal(_ command: String, appended: @escaping (LogIndex, Term) -> Void = { _, _ in },
                               finish: @escaping (WriteOutcome<Output>) -> Void) {
        waiting.append(ProposalWaiter(command: command, appended: appended, finish: finish, received: hooks.clock()))
    }

    /// A linearizable read (ReadIndex): `serve` runs with the state machine once a quorum has
    /// confirmed the leader — this node, or the leader it follows, which tells it the index to
    /// wait for — and the machine has caught up; or with nil when this node cannot serve it (it
    /// knows no leader, the leader changed or did not answer in time, the node went down): ask
    /// again, or elsewhere.
    public func readLinearizable(_ serve: @escaping (Machine?) -> Void) {
        guard !isStopped else { return serve(nil) }
        queueRead(id: nextReadID, serve)
    }

    /// Queues a linearizable read under `id` (later reads are numbered after it) without the
    /// leadership check: a replay queues the reads a recording shows, under their recorded ids.
    package func queueRead(id: UInt64, _ serve: @escaping (Machine?) -> Void) {
        newReads.append(PendingRead(id: id, serve: serve))
        nextReadID = id + 1
    }

    /// Appends a membership change at this leader (one at a time; see `RaftNode`).
    public func proposeConfigurationChange(_ change: ConfigurationChange)
        -> Result<(index: LogIndex, term: Term), ConfigurationChangeError> {
        guard !isStopped else { return .failure(.notLeader(leaderHint: nil)) }
        return coreChangeConfiguration(change)
    }

    /// Starts handing leadership to `target`.
    public func transferLeadership(to target: NodeID) -> Result<Void, TransferError> {
        guard !isStopped else { return .failure(.notLeader(leaderHint: nil)) }
        return coreTransfer(to: target)
    }

    /// Calls `check` with the core after every flush until it returns true (or the engine stops,
    /// when it is called no more: watchers must not wait forever on a dead node).
    public func watch(_ check: @escaping (RaftNode) -> Bool) {
        guard !isStopped else { return }
        if !check(raft) { watchers.append(check) }
    }

    /// Takes a snapshot now; `reply` gets the index it covers, or why it failed.
    public func snapshotNow(reply: @escaping (Result<LogIndex, SnapshotFailure>) -> Void) {
        guard !isStopped else { return reply(.failure(SnapshotFailure(reason: "the node is down"))) }
        snapshotWaiters.append(reply)
        beginSnapshot()
    }

    /// Stops the node: waiting writers learn `unknown` (appended entries may still commit
    /// elsewhere), readers and watchers are dropped, files are closed. Memory is all that is lost.
    public func stop(reason: String = "stopped") {
        stop(reason: reason, failed: false)
    }

    func stop(reason: String, failed: Bool) {
        guard !isStopped else { return }
        isStopped = true
        failWaiters()
        stores.log.close()
        recorder?.stopped(reason: reason, failed: failed)
        recorder?.drain()
    }

    func failWaiters() {
        for index in pending.keys.sorted() {
            pending[index]!.finish(.unknown)
        }
        pending.removeAll()
        for item in waiting { item.finish(.nodeDown) }
        waiting.removeAll()
        for read in newReads + unconfirmedReads.keys.sorted().map({ unconfirmedReads[$0]!.read }) + confirmedReads.map(\.read) {
            read.serve(nil)
        }
        newReads.removeAll()
        unconfirmedReads.removeAll()
        confirmedReads.removeAll()
        watchers.removeAll()
        let snapshotWaiters = self.snapshotWaiters
        self.snapshotWaiters.removeAll()
        for waiter in snapshotWaiters { waiter(.failure(SnapshotFailure(reason: "the node went down"))) }
    }

    /// Storage failed: nothing this node holds in memory can be trusted to match its disk.
    func fail(_ reason: String) {
        stop(reason: reason, failed: true)
        hooks.stopped(reason)
    }
}

/// Why a snapshot could not be taken.
public struct SnapshotFailure: Error, Sendable, CustomStringConvertible {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}
