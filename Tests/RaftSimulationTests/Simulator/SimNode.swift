import RaftCore

/// One simulated server: a "disk" that survives crashes and the volatile `RaftNode` that does not.
struct SimNode {
    let id: NodeID
    /// What survives a crash: the last persisted term/vote and log.
    var durableHardState = HardState()
    var durableLog: [Entry] = []
    /// The running node, or nil while crashed.
    var raft: RaftNode?
    /// Bumped on every restart so that timer events of an earlier life are ignored.
    var incarnation = 0
    /// The last index this incarnation applied (the state machine is rebuilt from the log on restart).
    var appliedIndex: LogIndex = 0
    /// Commands applied, in order, by this incarnation.
    var appliedCommands: [String] = []

    var isAlive: Bool { raft != nil }

    init(id: NodeID) {
        self.id = id
    }

    /// Writes `ready`'s hard state and entries, as the runtime's storage would before sending.
    /// With `tornAfter`, the write stops after that many entries (a crash mid-write).
    mutating func persist(_ ready: Ready, tornAfter: Int? = nil) {
        if let hardState = ready.hardState {
            durableHardState = hardState
        }
        guard let first = ready.entries.first else { return }
        durableLog.removeLast(max(0, durableLog.count - (first.index - 1)))
        let kept = tornAfter.map { min($0, ready.entries.count) } ?? ready.entries.count
        durableLog.append(contentsOf: ready.entries.prefix(kept))
    }

    mutating func crash() {
        raft = nil
        appliedIndex = 0
        appliedCommands = []
    }

    mutating func restart(clusterSize: Int, config: RaftConfig, seed: UInt64) {
        incarnation += 1
        raft = RaftNode(id: id, clusterSize: clusterSize, config: config, hardState: durableHardState,
                        log: RaftLog(entries: durableLog), seed: seed)
        appliedIndex = 0
        appliedCommands = []
    }
}
