/// Elections: PreVote, then the real vote, then leadership (§5.2, thesis §9.6). Only voters of
/// the node's own latest configuration are asked, and only their answers count.
extension RaftNode {
    /// Starts a (pre-)election. A pre-election asks for votes for `term + 1` without raising the
    /// term, so a node that cannot win — cut off, or behind — leaves the cluster's term alone.
    /// `transfer` marks an election the leader asked for (TimeoutNow).
    mutating func campaign(preVote: Bool, transfer: Bool = false) {
        let rule = configuration.quorumRule
        let voters = rule.voters
        guard voters.contains(id) else { return }
        var tally = VoteTally(voters: voters)
        tally.record(id, granted: true)
        let campaignTerm = term + 1
        if preVote {
            role = .preCandidate(tally)
        } else {
            term = campaignTerm
            votedFor = id
            role = .candidate(tally)
        }
        leaderID = nil
        resetElectionTimer()
        pendingEvents.append(.electionStarted(term: campaignTerm, preVote: preVote))
        if rule.voteResult(tally.answer) == .won {
            if preVote { campaign(preVote: false) } else { becomeLeader() }
            return
        }
        let request = VoteRequest(preVote: preVote, lastLogIndex: log.lastIndex, lastLogTerm: log.lastTerm, transfer: transfer)
        for peer in voters where peer != id {
            send(to: peer, term: campaignTerm, .voteRequest(request))
        }
    }

    mutating func handleVoteResponse(from voter: NodeID, _ response: VoteResponse) {
        switch role {
        case .preCandidate(var tally) where response.preVote:
            tally.record(voter, granted: response.granted)
            role = .preCandidate(tally)
            switch configuration.quorumRule.voteResult(tally.answer) {
            case .won: campaign(preVote: false)
            case .lost: becomeFollower(term: term, leader: nil, reason: "pre-election lost")
            case .pending: break
            }
        case .candidate(var tally) where !response.preVote:
            tally.record(voter, granted: response.granted)
            role = .candidate(tally)
            switch configuration.quorumRule.voteResult(tally.answer) {
            case .won: becomeLeader()
            case .lost: becomeFollower(term: term, leader: nil, reason: "election lost")
            case .pending: break
            }
        default:
            break  // a late answer to an election that is over
        }
    }

    /// The leader asks us to take over (thesis §3.10): campaign now, skipping the pre-vote.
    mutating func handleTimeoutNow(from leader: NodeID) {
        guard !isLeader, configuration.isVoter(id) else { return }
        campaign(preVote: false, transfer: true)
    }

    /// Takes leadership and appends a no-op of the new term, which lets entries of earlier terms
    /// commit through it (§5.4.2: a leader never counts replicas of an earlier term's entry).
    mutating func becomeLeader() {
        let progress = NodeMap(replicationTargets) { _ in Progress(next: log.lastIndex + 1) }
        role = .leader(LeaderState(progress: progress))
        leaderID = id
        electionElapsed = 0
        heartbeatElapsed = 0
        pendingEvents.append(.becameLeader(term: term))
        appendAsLeader([Entry(index: 0, term: 0, data: "")])
        broadcastAppends(mode: .entriesOnly)
        advanceCommit()
    }
}
