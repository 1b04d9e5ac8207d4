import KVStore
import RaftCore
import RaftEngine
import RaftStorage
import Synchronization
import RuntimeSupport

/// The engine every node runs: the Raft pipeline around the key-value map.
public typealias KVEngine = NodeEngine<KVStateMachine>

/// One node as the registry, `status` and the web page show it.
public struct NodeStatus: Sendable, Equatable {
    public var id: NodeID
    /// "leader", "follower", "candidate", "precandidate" or "down".
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
    /// Why the node is down when it failed (damaged files, a failing disk).
    public var failure: String?
    /// The configuration in force on this node, its entry's index, and whether it is committed.
    public var configuration: ClusterConfiguration
    public var configurationIndex: LogIndex
    public var configurationCommitted: Bool
    /// Election timer: ticks since the last reset, and the timeout it runs to.
    public var electionElapsed: Int
    public var electionTimeout: Int
    /// A leader's view of the nodes it replicates to.
    public var replication: [ReplicationStatus]
    /// A leadership transfer this leader is making.
    public var transferee: NodeID?
    /// The node's disk fault, when one is injected ("slow 200 ms", "full").
    public var diskFault: String?
    /// The store as this node has applied it: its revision, keys and client sessions.
    public var storeRevision: Int64 = 0
    public var keyCount = 0
    public var sessionCount = 0
    /// Leases the store holds, and those this node ended as leader (expired).
    public var leaseCount = 0
    public var leasesExpired = 0
    /// The node's build answers followers' read-index requests (a member of an older build does
    /// not know the message and would drop the link): followers may then serve linearizable
    /// reads themselves while it leads.
    public var followerReads = false

    /// A voter of its own configuration.
    public var isVoter: Bool { configuration.isVoter(id) }
    /// In its own configuration at all (a removed node, or one waiting to be added, is not).
    public var isMember: Bool { configuration.contains(id) }

    public init(id: NodeID, role: String, term: Term, votedFor: NodeID?, leaderID: NodeID?, commitIndex: LogIndex,
                lastApplied: LogIndex, logLength: Int, snapshotIndex: LogIndex, entriesInLog: Int, alive: Bool,
                lastLeaderContact: UInt64, failure: String?, configuration: ClusterConfiguration, configurationIndex: LogIndex,
                configurationCommitted: Bool, electionElapsed: Int, electionTimeout: Int, replication: [ReplicationStatus],
                transferee: NodeID?, diskFault: String?) {
        self.id = id
        self.role = role
        self.term = term
        self.votedFor = votedFor
        self.leaderID = leaderID
        self.commitIndex = commitIndex
        self.lastApplied = lastApplied
        self.logLength = logLength
        self.snapshotIndex = snapshotIndex
        self.entriesInLog = entriesInLog
        self.alive = alive
        self.lastLeaderContact = lastLeaderContact
        self.failure = failure
        self.configuration = configuration
        self.configurationIndex = configurationIndex
        self.configurationCommitted = configurationCommitted
        self.electionElapsed = electionElapsed
        self.electionTimeout = electionTimeout
        self.replication = replication
        self.transferee = transferee
        self.diskFault = diskFault
    }

    public static func down(_ id: NodeID, failure: String? = nil, configuration: ClusterConfiguration = .empty) -> NodeStatus {
        NodeStatus(id: id, role: "down", term: 0, votedFor: nil, leaderID: nil, commitIndex: 0, lastApplied: 0,
                   logLength: 0, snapshotIndex: 0, entriesInLog: 0, alive: false, lastLeaderContact: 0, failure: failure,
                   configuration: configuration, configurationIndex: 0, configurationCommitted: true,
                   electionElapsed: 0, electionTimeout: 0, replication: [], transferee: nil, diskFault: nil)
    }
}

/// Makes the stores a node (re)starts from: files for the server, memory for tests.
public protocol NodeStorage: Sendable {
    func stores(for node: NodeID) -> NodeStores
    /// The log's name for messages ("log01.txt").
    func logName(for node: NodeID) -> String
    /// The node's disk, for fault injection (nil: this storage cannot fail on purpose).
    func disk(for node: NodeID) -> DiskFaults?
    /// The configuration the node's cluster started with: stored on the node's first start
    /// (`proposed`), read back on every later one.
    func bootstrap(for node: NodeID, proposing proposed: ClusterConfiguration) throws(StorageError) -> ClusterConfiguration
}

/// `metaX.txt`, `log0X.txt` and `snapshotX.json` under the data directory, each node's on its
/// own `DiskFaults`, kept for the life of the process.
public final class FileNodeStorage: NodeStorage {
    public let directory: DataDirectory
    public let fsync: Bool
    private let disks = Mutex<[NodeID: DiskFaults]>([:])

    public init(directory: DataDirectory, fsync: Bool) {
        self.directory = directory
        self.fsync = fsync
    }

    public func disk(for node: NodeID) -> DiskFaults? {
        disks.withLock { disks in
            if let disk = disks[node] { return disk }
            let disk = DiskFaults()
            disks[node] = disk
            return disk
        }
    }

    public func stores(for node: NodeID) -> NodeStores {
        let disk = disk(for: node)
        return NodeStores(log: FileLogStore(path: directory.logPath(node: node), syncWrites: fsync, disk: disk),
                          meta: FileMetaStore(path: directory.metaPath(node: node), syncWrites: fsync, disk: disk),
                          snapshot: FileSnapshotStore(path: directory.snapshotPath(node: node), syncWrites: fsync, disk: disk))
    }

    public func logName(for node: NodeID) -> String {
        String(directory.logPath(node: node).split(separator: "/").last ?? "")
    }

    public func bootstrap(for node: NodeID, proposing proposed: ClusterConfiguration) throws(StorageError) -> ClusterConfiguration {
        try BootstrapFile(path: directory.bootstrapPath(node: node), syncWrites: fsync, disk: disk(for: node))
            .configuration(proposing: proposed)
    }
}

/// Stores kept in memory across restarts of a node (its "disk" is the object).
public final class InMemoryNodeStorage: NodeStorage, @unchecked Sendable {
    private let stores = Mutex<[NodeID: (InMemoryLogStore, InMemoryMetaStore, InMemorySnapshotStore)]>([:])
    private let bootstraps = Mutex<[NodeID: ClusterConfiguration]>([:])

    public init() {}

    public func stores(for node: NodeID) -> NodeStores {
        let (log, meta, snapshot) = stores.withLock { stores in
            if let existing = stores[node] { return existing }
            let made = (InMemoryLogStore(), InMemoryMetaStore(), InMemorySnapshotStore())
            stores[node] = made
            return made
        }
        return NodeStores(log: log, meta: meta, snapshot: snapshot)
    }

    public func logName(for node: NodeID) -> String { "memory log \(node)" }
    public func disk(for node: NodeID) -> DiskFaults? { nil }

    public func bootstrap(for node: NodeID, proposing proposed: ClusterConfiguration) throws(StorageError) -> ClusterConfiguration {
        bootstraps.withLock { stored in
            if let existing = stored[node] { return existing }
            stored[node] = proposed
            return proposed
        }
    }
}
