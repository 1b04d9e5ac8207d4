import RaftCore
import RaftStorage

/// What a proposer learns about its write.
public enum WriteOutcome<Output: Sendable>: Sendable {
    /// Committed and applied; the state machine's answer.
    case applied(Output)
    /// Refused: this node does not lead (it names the leader it knows, if any).
    case notLeader(leaderHint: NodeID?)
    /// Appended, then overwritten by another leader's entry (or found unreadable): certainly not applied.
    case lost
    /// Appended, then the node went down or skipped past it with a snapshot: it may still commit.
    case unknown
    /// The node is down.
    case nodeDown
}

/// The three stores of one node.
public struct NodeStores {
    public var log: LogStore
    public var meta: MetaStore
    public var snapshot: SnapshotStore

    public init(log: LogStore, meta: MetaStore, snapshot: SnapshotStore) {
        self.log = log
        self.meta = meta
        self.snapshot = snapshot
    }
}

/// How loud an engine report is.
public enum EngineLogLevel: Int, Sendable, Comparable {
    case debug, info, warning, error

    public static func < (lhs: EngineLogLevel, rhs: EngineLogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// What an engine needs from whoever runs it. All are called on the engine's thread.
public struct EngineHooks {
    /// Hands messages to the transport, in order.
    public var send: ([Envelope]) -> Void
    /// A readable report for the event log.
    public var log: (EngineLogLevel, String) -> Void
    /// The engine stopped itself (storage failed); it must not be used again.
    public var stopped: (String) -> Void
    /// Monotonic nanoseconds, for latency figures only (never for decisions).
    public var clock: () -> UInt64
    /// Sees the entries the core declared committed, as soon as it hands them out (checkers).
    public var committed: (([Entry]) -> Void)?

    public init(send: @escaping ([Envelope]) -> Void, log: @escaping (EngineLogLevel, String) -> Void = { _, _ in },
                stopped: @escaping (String) -> Void = { _ in }, clock: @escaping () -> UInt64 = { 0 },
                committed: (([Entry]) -> Void)? = nil) {
        self.send = send
        self.log = log
        self.stopped = stopped
        self.clock = clock
        self.committed = committed
    }
}

/// Where slow work (serializing a large snapshot) runs. `then` must run on the engine's thread.
public protocol EngineExecutor: Sendable {
    func offload<T: Sendable>(_ work: @escaping @Sendable () -> T, then: @escaping @Sendable (T) -> Void)
}

/// Runs the work right away, on the caller's thread (the simulator, tests).
public struct InlineExecutor: EngineExecutor {
    public init() {}

    public func offload<T: Sendable>(_ work: @escaping @Sendable () -> T, then: @escaping @Sendable (T) -> Void) {
        then(work())
    }
}

/// What an engine found on disk when it started.
public struct LoadReport: Sendable {
    public var hardState: HardState
    public var snapshotIndex: LogIndex?
    /// The size of the snapshot whose state is being loaded in the background.
    public var snapshotBytes: Int
    public var entriesReplayed: Int
    public var droppedTornTail: Bool
    public var droppedStaleSuffix: Bool
}

/// A deliberate break of the order `Ready` prescribes, for tests only (`NodeEngine.testOnly_pipelineFault`):
/// the engine does this wrong so a test can show that a replay of an older recording notices.
package enum PipelineFault: Sendable {
    /// Tells the core its entries are durable before they are written.
    case persistedBeforeLogWrite
    /// Sends a Ready's messages (votes, acknowledgements) before its snapshot and term/vote are saved.
    case messagesBeforeHardState
}
