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

extension Progress {
    /// What a follower's answer to an append did to its progress.
    enum Answer: Equatable {
        /// Recorded: whether `match` moved, and whether more should be sent now.
        case recorded(matchMoved: Bool, sendMore: Bool)
        /// It acknowledged an entry beyond the leader's last one: nothing was recorded.
        case impossible
    }

    /// Records a follower's answer to an append; `log` is the leader's. A success moves `match`
    /// and switches to replicate; a refusal that answers the latest probe (or, in replicate,
    /// reveals a gap) walks `next` back using the follower's conflict hint.
    mutating func record(_ response: AppendResponse, log: RaftLog) -> Answer {
        if response.success && response.matchIndex > log.lastIndex { return .impossible }
        recentActive = true
        if response.success {
            let matchMoved = acknowledge(upTo: response.matchIndex)
            if state == .probe || (state == .snapshot && match >= snapshotIndex) {
                becomeReplicate()
            }
            return .recorded(matchMoved: matchMoved, sendMore: true)
        }
        let stale: Bool
        switch state {
        case .replicate: stale = response.rejectedIndex <= match
        case .probe: stale = response.rejectedIndex != next - 1
        case .snapshot: stale = true
        }
        guard !stale else { return .recorded(matchMoved: false, sendMore: false) }
        var resume = response.hintIndex
        if let hintTerm = response.hintTerm, let last = log.lastIndex(ofTerm: hintTerm) {
            resume = last + 1
        }
        becomeProbe(next: max(min(resume, response.rejectedIndex), match + 1))
        return .recorded(matchMoved: false, sendMore: true)
    }

    /// Records a follower's answer to a snapshot chunk; true when the next chunk should go out.
    mutating func record(_ response: SnapshotChunkResponse) -> Bool {
        recentActive = true
        guard state == .snapshot, snapshotIndex == response.index else { return false }
        snapshotOffset = response.received
        probeSent = false
        return true
    }
}
