/// A node's log in memory: every entry after `snapshotIndex`, whose own term is `snapshotTerm`.
/// Terms never decrease along the log, which the searches below rely on.
public struct RaftLog: Sendable, Equatable, Codable {
    public private(set) var snapshotIndex: LogIndex
    public private(set) var snapshotTerm: Term
    public private(set) var entries: [Entry]

    public init(snapshotIndex: LogIndex = 0, snapshotTerm: Term = 0, entries: [Entry] = []) {
        for (offset, entry) in entries.enumerated() {
            precondition(entry.index == snapshotIndex + 1 + offset, "log entries must be contiguous")
        }
        self.snapshotIndex = snapshotIndex
        self.snapshotTerm = snapshotTerm
        self.entries = entries
    }

    /// What a restarting node's log is, given its snapshot and the entries its log file holds.
    ///
    /// A snapshot is saved before the log file is rewritten, so after a crash the file may still
    /// hold entries the snapshot covers (they are skipped) or, after InstallSnapshot, a suffix of a
    /// history the snapshot replaced. Stored entries continue the snapshot only when the file
    /// holds the snapshot's last entry with its term, or starts right after it; otherwise they are
    /// dropped (`droppedStale`). Returns nil when the entries leave a gap after the snapshot.
    public static func restoring(snapshotIndex: LogIndex, snapshotTerm: Term, stored: [Entry])
        -> (log: RaftLog, droppedStale: Bool)? {
        guard let first = stored.first else {
            return (RaftLog(snapshotIndex: snapshotIndex, snapshotTerm: snapshotTerm), false)
        }
        if first.index > snapshotIndex + 1 { return nil }
        let position = snapshotIndex - first.index
        let continues = first.index == snapshotIndex + 1
            || (position < stored.count && stored[position].term == snapshotTerm)
        guard continues else {
            return (RaftLog(snapshotIndex: snapshotIndex, snapshotTerm: snapshotTerm), true)
        }
        let kept = Array(stored[(position + 1)...])
        return (RaftLog(snapshotIndex: snapshotIndex, snapshotTerm: snapshotTerm, entries: kept), false)
    }

    public var lastIndex: LogIndex { snapshotIndex + entries.count }
    public var lastTerm: Term { entries.last?.term ?? snapshotTerm }
    /// The first index still held as an entry (not folded into the snapshot).
    public var firstIndex: LogIndex { snapshotIndex + 1 }

    /// The term of the entry at `index`, or nil when the log does not hold it.
    public func term(at index: LogIndex) -> Term? {
        if index == snapshotIndex { return snapshotTerm }
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[index - snapshotIndex - 1].term
    }

    public func entry(at index: LogIndex) -> Entry {
        precondition(index > snapshotIndex && index <= lastIndex, "entry \(index) is not in the log")
        return entries[index - snapshotIndex - 1]
    }

    /// Entries `from ... through`, both inside the log.
    public func entries(from: LogIndex, through: LogIndex) -> [Entry] {
        guard from <= through else { return [] }
        precondition(from > snapshotIndex && through <= lastIndex, "range \(from)...\(through) is not in the log")
        return Array(entries[(from - snapshotIndex - 1)...(through - snapshotIndex - 1)])
    }

    /// §5.4.1: a candidate's log is at least as up to date as ours.
    public func isUpToDate(lastIndex otherIndex: LogIndex, lastTerm otherTerm: Term) -> Bool {
        otherTerm > lastTerm || (otherTerm == lastTerm && otherIndex >= lastIndex)
    }

    /// The first index whose term equals the term at `index` (for the conflict hint).
    public func firstIndex(ofTermAt index: LogIndex) -> LogIndex {
        guard let term = term(at: index) else { return index }
        var low = snapshotIndex + 1, high = index
        while low < high {
            let mid = (low + high) / 2
            if entries[mid - snapshotIndex - 1].term < term { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The last index holding an entry of `term`, or nil when no entry has that term.
    public func lastIndex(ofTerm term: Term) -> LogIndex? {
        var low = snapshotIndex + 1, high = lastIndex + 1
        while low < high {
            let mid = (low + high) / 2
            if entries[mid - snapshotIndex - 1].term <= term { low = mid + 1 } else { high = mid }
        }
        let candidate = low - 1
        return self.term(at: candidate) == term && candidate > snapshotIndex ? candidate : nil
    }

    mutating func append(_ entry: Entry) {
        precondition(entry.index == lastIndex + 1, "append at \(entry.index) after \(lastIndex)")
        precondition(entry.term >= lastTerm, "terms must not decrease along the log")
        entries.append(entry)
    }

    /// Folds every entry through `index` into the snapshot base (after a snapshot was taken).
    /// Returns the entries removed, so the caller decides where their memory is given back.
    @discardableResult
    mutating func compact(through index: LogIndex) -> [Entry] {
        precondition(index > snapshotIndex && index <= lastIndex, "cannot compact through \(index)")
        let newTerm = term(at: index)!
        // The kept tail (thousands of entries) is copied, not the removed head (tens of
        // thousands), which leaves in the old storage for the caller to free.
        let keep = index - snapshotIndex
        var removed = entries
        entries = Array(removed[keep...])
        removed.removeSubrange(keep...)
        snapshotIndex = index
        snapshotTerm = newTerm
        return removed
    }

    /// Removes every entry after `index`.
    mutating func truncate(after index: LogIndex) {
        precondition(index >= snapshotIndex, "cannot truncate into the snapshot")
        entries.removeLast(lastIndex - index)
    }
}
