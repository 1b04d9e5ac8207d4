import RaftCore

/// What one node's disk holds, as the safety checks see it: term and vote, the snapshot's base,
/// the stored entries after it, and the configuration they put in force.
public struct DurableView: Sendable {
    public var hardState: HardState
    public var snapshotIndex: LogIndex
    public var snapshotTerm: Term
    /// Stored entries, contiguous, right after the snapshot (or a stale suffix, ignored on restart).
    public var entries: [Entry]
    /// The configuration in force on restart: the last configuration entry, else the snapshot's,
    /// else the bootstrap one.
    public var configuration: ClusterConfiguration

    /// `entries` as stored; they are cut to what a restart would keep (see `RaftLog.restoring`).
    /// Pass `latestConfiguration` (the last configuration entry among `entries`, if known) to
    /// save a scan.
    public init(hardState: HardState, snapshot: Snapshot?, entries: [Entry], bootstrap: ClusterConfiguration,
                latestConfiguration: ClusterConfiguration?? = nil) {
        self.hardState = hardState
        self.snapshotIndex = snapshot?.index ?? 0
        self.snapshotTerm = snapshot?.term ?? 0
        var kept = entries
        var cut = false
        if let first = entries.first, first.index != snapshotIndex + 1 {
            kept = RaftLog.restoring(snapshotIndex: snapshotIndex, snapshotTerm: snapshotTerm, stored: entries)?.log.entries ?? []
            cut = true
        }
        self.entries = kept
        let fromLog: ClusterConfiguration?
        if let latestConfiguration, !cut {
            fromLog = latestConfiguration
        } else {
            fromLog = kept.last { $0.isConfiguration }?.configuration
        }
        self.configuration = fromLog ?? snapshot?.configuration ?? bootstrap
    }

    /// The (index, term) of the last entry, counting the snapshot.
    public var last: (index: LogIndex, term: Term) {
        if let last = entries.last { return (last.index, last.term) }
        return (snapshotIndex, snapshotTerm)
    }

    /// The term the disk records at `index` (nil: not held, or folded into the snapshot below its index).
    public func term(at index: LogIndex) -> Term? {
        if index == snapshotIndex { return snapshotTerm }
        guard let first = entries.first, index >= first.index, index - first.index < entries.count else { return nil }
        return entries[index - first.index].term
    }

    /// The snapshot covers `index`: everything up to it is committed and kept.
    public func covers(_ index: LogIndex) -> Bool { index <= snapshotIndex }

    /// Holds entry (index, term) durably, in the log or under the snapshot.
    public func holds(index: LogIndex, term: Term) -> Bool {
        covers(index) || self.term(at: index) == term
    }

    /// §5.4.1: would this node grant its vote to a candidate whose log ends at `candidate`?
    public func wouldVote(for candidate: (index: LogIndex, term: Term)) -> Bool {
        let mine = last
        return mine.term < candidate.term || (mine.term == candidate.term && mine.index <= candidate.index)
    }
}
