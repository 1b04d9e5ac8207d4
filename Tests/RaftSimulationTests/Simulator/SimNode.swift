import RaftCore

/// One simulated server: a "disk" that survives crashes and the volatile `RaftNode` that does not.
/// Its state machine is the list of commands applied; a snapshot is that list, one per line.
struct SimNode {
    let id: NodeID
    /// What survives a crash: the last persisted term/vote, snapshot and log.
    var durableHardState = HardState()
    var durableSnapshot: Snapshot?
    var durableLog: [Entry] = []
    /// The running node, or nil while crashed.
    var raft: RaftNode?
    /// Bumped on every restart so that timer events of an earlier life are ignored.
    var incarnation = 0
    /// The last index this incarnation applied (the state machine is rebuilt from disk on restart).
    var appliedIndex: LogIndex = 0
    /// Commands applied, in order (including those restored from a snapshot).
    var appliedCommands: [String] = []

    var isAlive: Bool { raft != nil }

    init(id: NodeID) {
        self.id = id
    }

    static func encode(_ commands: [String]) -> [UInt8] { Array(commands.joined(separator: "\n").utf8) }

    static func decode(_ data: [UInt8]) -> [String] {
        data.isEmpty ? [] : String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// The durable (index, term) of the last entry, counting the snapshot.
    var durableLast: (index: LogIndex, term: Term) {
        if let last = durableLog.last { return (last.index, last.term) }
        return (durableSnapshot?.index ?? 0, durableSnapshot?.term ?? 0)
    }

    /// The term the disk records at `index` (the snapshot covers everything up to its index).
    func durableTerm(at index: LogIndex) -> Term? {
        if let snapshot = durableSnapshot, index <= snapshot.index {
            return index == snapshot.index ? snapshot.term : nil
        }
        guard let first = durableLog.first, index >= first.index, index - first.index < durableLog.count else { return nil }
        return durableLog[index - first.index].term
    }

    func durablyCovers(index: LogIndex) -> Bool { index <= (durableSnapshot?.index ?? 0) }

    /// Writes `ready` in the runtime's order: snapshot, meta, then the log. With `tornAfter`,
    /// the log write stops after that many entries; with `logUntouched`, before it starts.
    mutating func persist(_ ready: Ready, tornAfter: Int? = nil, logUntouched: Bool = false) {
        if let snapshot = ready.snapshot { durableSnapshot = snapshot }
        if let hardState = ready.hardState { durableHardState = hardState }
        if logUntouched { return }
        if ready.logReplaced { durableLog.removeAll() }
        guard let first = ready.entries.first else { return }
        durableLog.removeAll { $0.index >= first.index }
        let kept = tornAfter.map { min($0, ready.entries.count) } ?? ready.entries.count
        durableLog.append(contentsOf: ready.entries.prefix(kept))
    }

    /// Saves a snapshot of the applied commands, then (unless the crash comes first) drops the
    /// log prefix it covers.
    mutating func saveSnapshot(_ snapshot: Snapshot, compactLog: Bool) {
        durableSnapshot = snapshot
        if compactLog { durableLog.removeAll { $0.index <= snapshot.index } }
    }

    mutating func crash() {
        raft = nil
        appliedIndex = 0
        appliedCommands = []
    }

    mutating func restart(clusterSize: Int, config: RaftConfig, seed: UInt64) {
        incarnation += 1
        let restored = RaftLog.restoring(snapshotIndex: durableSnapshot?.index ?? 0, snapshotTerm: durableSnapshot?.term ?? 0,
                                         stored: durableLog)!
        durableLog = restored.log.entries  // a stale suffix is dropped from the disk too, as the runtime does
        raft = RaftNode(id: id, clusterSize: clusterSize, config: config, hardState: durableHardState,
                        log: restored.log, snapshot: durableSnapshot, seed: seed)
        appliedIndex = durableSnapshot?.index ?? 0
        appliedCommands = Self.decode(durableSnapshot?.data ?? [])
    }
}
