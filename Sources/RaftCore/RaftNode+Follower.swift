/// AppendEntries at the receiving end (§5.3): consistency check, conflict truncation, commit.
extension RaftNode {
    mutating func handleAppendRequest(from leader: NodeID, _ request: AppendRequest) {
        switch role {
        case .leader:
            return  // two leaders in one term cannot exist; the simulator checks that they never do
        case .preCandidate, .candidate:
            becomeFollower(term: term, leader: leader, reason: "node \(leader) leads term \(term)")
        case .follower:
            if leaderID != leader {
                leaderID = leader
                pendingEvents.append(.followingLeader(leader: leader, term: term))
            }
        }
        electionElapsed = 0

        if request.prevLogIndex < commitIndex {
            // Everything up to our commit index is known to match any leader's log.
            send(to: leader, .appendResponse(AppendResponse(success: true, matchIndex: commitIndex)))
            return
        }
        guard let localTerm = log.term(at: request.prevLogIndex), localTerm == request.prevLogTerm else {
            send(to: leader, .appendResponse(conflictHint(rejecting: request.prevLogIndex)))
            return
        }
        for entry in request.entries where entry.index > log.lastIndex || log.term(at: entry.index) != entry.term {
            if entry.index <= log.lastIndex {
                precondition(entry.index > commitIndex, "a leader tried to overwrite committed entry \(entry.index)")
                log.truncate(after: entry.index - 1)
            }
            log.append(entry)
            markUnstable(from: entry.index)
        }
        let lastNew = request.prevLogIndex + request.entries.count
        let newCommit = min(request.leaderCommit, lastNew)
        if newCommit > commitIndex {
            commitIndex = newCommit
        }
        send(to: leader, .appendResponse(AppendResponse(success: true, matchIndex: lastNew)))
    }

    /// The refusal for a failed consistency check, with the hint that lets the leader skip a term.
    func conflictHint(rejecting prevLogIndex: LogIndex) -> AppendResponse {
        if prevLogIndex > log.lastIndex {
            return AppendResponse(success: false, matchIndex: 0, rejectedIndex: prevLogIndex,
                                  hintIndex: log.lastIndex + 1, hintTerm: nil)
        }
        let conflictTerm = log.term(at: prevLogIndex)
        let firstOfTerm = max(log.firstIndex(ofTermAt: prevLogIndex), commitIndex + 1)
        return AppendResponse(success: false, matchIndex: 0, rejectedIndex: prevLogIndex,
                              hintIndex: firstOfTerm, hintTerm: conflictTerm)
    }
}
