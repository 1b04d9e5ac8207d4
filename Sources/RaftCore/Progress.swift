/// How a leader replicates to one follower (leader-only state).
///
/// In `probe` the leader sends one AppendEntries at a time and waits for the answer, walking
/// `next` back with conflict hints; once an append succeeds it switches to `replicate`, where it
/// streams entries optimistically, at most `maxInflightAppends` messages ahead of the answers.
/// In `snapshot` the entries the follower needs are compacted away: the leader sends its
/// snapshot one chunk at a time, then goes back to replicating after it.
struct Progress: Sendable, Equatable, Codable {
    enum State: Sendable, Equatable, Codable { case probe, replicate, snapshot }

    var next: LogIndex
    var match: LogIndex = 0
    var state: State = .probe
    /// In probe: an append with entries is out and unanswered. In snapshot: a chunk is.
    var probeSent = false
    /// In snapshot: which snapshot is being sent, and the byte offset of the next chunk.
    var snapshotIndex: LogIndex = 0
    var snapshotOffset = 0
    /// In replicate: the last index carried by each unacknowledged append, ascending.
    var inflight: [LogIndex] = []
    /// Heard from this follower since the last CheckQuorum round.
    var recentActive = false

    init(next: LogIndex) {
        self.next = next
    }

    func isPaused(maxInflight: Int) -> Bool {
        switch state {
        case .probe, .snapshot: return probeSent
        case .replicate: return inflight.count >= maxInflight
        }
    }

    mutating func becomeProbe(next newNext: LogIndex) {
        state = .probe
        next = newNext
        probeSent = false
        inflight.removeAll()
    }

    mutating func becomeSnapshot(index: LogIndex) {
        state = .snapshot
        snapshotIndex = index
        snapshotOffset = 0
        probeSent = false
        inflight.removeAll()
    }

    mutating func becomeReplicate() {
        state = .replicate
        next = match + 1
        probeSent = false
        inflight.removeAll()
    }

    /// Records an acknowledgement up to `index`; returns true when `match` moved.
    mutating func acknowledge(upTo index: LogIndex) -> Bool {
        inflight.removeAll { $0 <= index }
        probeSent = false
        guard index > match else { return false }
        match = index
        next = max(next, index + 1)
        return true
    }
}
