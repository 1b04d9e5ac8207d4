/// AppendEntries at the receiving end (§5.3): consistency check, conflict truncation, commit.
extension RaftNode {
    mutating func handleAppendRequest(from leader: NodeID, _ request: AppendRequest) {
        if isLeader { return }  // two leaders in one term cannot exist; the simulator checks that they never do
        followLeader(leader)
        let context = request.readContext

        if request.prevLogIndex < commitIndex {
            // Everything up to our commit index is known to match any leader's log.
            send(to: leader, .appendResponse(AppendResponse(success: true, matchIndex: commitIndex, readContext: context)))
            return
        }
        guard let localTerm = log.term(at: request.prevLogIndex), localTerm == request.prevLogTerm else {
            var refusal = conflictHint(rejecting: request.prevLogIndex)
            refusal.readContext = context
            send(to: leader, .appendResponse(refusal))
            return
        }
        for entry in request.entries where entry.index > log.lastIndex || log.term(at: entry.index) != entry.term {
            if entry.index <= log.lastIndex {
                precondition(entry.index > commitIndex, "a leader tried to overwrite committed entry \(entry.index)")
                truncateLog(after: entry.index - 1)
            }
            appendToLog(entry)
            markUnstable(from: entry.index)
        }
        let lastNew = request.prevLogIndex + request.entries.count
        let newCommit = min(request.leaderCommit, lastNew)
        if newCommit > commitIndex {
            commitIndex = newCommit
            noteCommitAdvanced()
        }
        send(to: leader, .appendResponse(AppendResponse(success: true, matchIndex: lastNew, readContext: context)))
    }

    /// The refusal for a failed consistency check, with the hint that lets the leader skip a term.
    func conflictHint(rejecting prevLogIndex: LogIndex) -> AppendResponse {
        if prevLogIndex > log.lastIndex {
            return AppendResponse(success: false, matchIndex: 0, rejectedIndex: prevLogIndex,
                                  hintIndex: log.lastIndex + 1, hintTerm: nil)
        }
        guard let conflictTerm = log.term(at: prevLogIndex) else {
            // Below our snapshot: everything there is committed, so the leader should resume after it.
            return AppendResponse(success: false, matchIndex: 0, rejectedIndex: prevLogIndex,
                                  hintIndex: log.snapshotIndex + 1, hintTerm: nil)
        }
        let firstOfTerm = max(log.firstIndex(ofTermAt: prevLogIndex), commitIndex + 1)
        return AppendResponse(success: false, matchIndex: 0, rejectedIndex: prevLogIndex,
                              hintIndex: firstOfTerm, hintTerm: conflictTerm)
    }
}
