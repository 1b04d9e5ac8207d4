import KVStore
import RaftCore
import RaftStorage

/// What a proposer learns about its write.
public enum WriteOutcome: Sendable {
    /// Committed and applied; the state machine's answer.
    case applied(KVResult)
    /// Refused: this node does not lead (it names the leader it knows, if any).
    case notLeader(leaderHint: NodeID?)
    /// Appended, then overwritten by another leader's entry: certainly not applied.
    case lost
    /// Appended, then the node went down: it may still commit.
    case unknown
    /// The node is down.
    case nodeDown
}

/// A write waiting for its fate. `appended()` comes first when a leader accepted the write;
/// `finish` comes exactly once. Called on the node's queue; implementations must be thread-safe.
public protocol WriteWaiter: AnyObject, Sendable {
    func appended()
    func finish(_ outcome: WriteOutcome)
}

/// What a linearizable read learns.
public enum LinearizableReadOutcome: Sendable {
    /// Confirmed by a quorum and served after the state machine caught up.
    case value(String?)
    /// This node cannot serve it (not the leader, or leadership lost before confirmation).
    case retry
}

/// One node as the registry and `status` show it.
public struct NodeStatus: Sendable, Equatable {
    public var id: NodeID
    public var role: String
    public var term: Term
    public var votedFor: NodeID?
    public var leaderID: NodeID?
    public var commitIndex: LogIndex
    public var lastApplied: LogIndex
    public var logLength: Int
    /// The last entry folded into the node's snapshot (0: none), and the entries after it.
    public var snapshotIndex: LogIndex
    public var entriesInLog: Int
    public var alive: Bool
    /// Monotonic nanoseconds of the last contact with a leader (0: never).
    public var lastLeaderContact: UInt64
    /// Why the node is down when it could not start (damaged files).
    public var failure: String?

    public static func down(_ id: NodeID, failure: String? = nil) -> NodeStatus {
        NodeStatus(id: id, role: "down", term: 0, votedFor: nil, leaderID: nil, commitIndex: 0, lastApplied: 0,
                   logLength: 0, snapshotIndex: 0, entriesInLog: 0, alive: false, lastLeaderContact: 0, failure: failure)
    }
}

/// The three stores of one node.
public struct NodeStores {
    public var log: LogStore
    public var meta: MetaStore
    public var snapshot: SnapshotStore
}

/// Makes the stores a node (re)starts from: files for the server, memory for tests.
public protocol NodeStorage: Sendable {
    func stores(for node: NodeID) -> NodeStores
    /// The log's name for messages ("log01.txt").
    func logName(for node: NodeID) -> String
}

/// `metaX.txt` and `log0X.txt` under the data directory.
public struct FileNodeStorage: NodeStorage {
    public let directory: DataDirectory
    public let fsync: Bool

    public init(directory: DataDirectory, fsync: Bool) {
        self.directory = directory
        self.fsync = fsync
    }

    public func stores(for node: NodeID) -> NodeStores {
        NodeStores(log: FileLogStore(path: directory.logPath(node: node), syncWrites: fsync),
                   meta: FileMetaStore(path: directory.metaPath(node: node), syncWrites: fsync),
                   snapshot: FileSnapshotStore(path: directory.snapshotPath(node: node), syncWrites: fsync))
    }

    public func logName(for node: NodeID) -> String {
        String(directory.logPath(node: node).split(separator: "/").last ?? "")
    }
}

/// Stores kept in memory across restarts of a node (its "disk" is the object).
public final class InMemoryNodeStorage: NodeStorage, @unchecked Sendable {
    private let logs: [InMemoryLogStore]
    private let metas: [InMemoryMetaStore]
    private let snapshots: [InMemorySnapshotStore]

    public init(nodes: Int) {
        logs = (0..<nodes).map { _ in InMemoryLogStore() }
        metas = (0..<nodes).map { _ in InMemoryMetaStore() }
        snapshots = (0..<nodes).map { _ in InMemorySnapshotStore() }
    }

    public func stores(for node: NodeID) -> NodeStores {
        NodeStores(log: logs[node], meta: metas[node], snapshot: snapshots[node])
    }
    public func logName(for node: NodeID) -> String { "memory log \(node)" }
}
