import RaftCore

/// Watches every step of a simulation and records the first broken safety property:
/// election safety, log matching, leader completeness, state machine safety, gap-free apply,
/// terms that never decrease and votes that never change within a term (Raft paper, Figure 3).
struct SafetyChecker {
    private struct EntryKey: Hashable { var index: LogIndex; var term: Term }
    private struct EntryRecord: Equatable { var data: String; var previousTerm: Term }

    let clusterSize: Int
    private(set) var violation: String?
    /// term → the one node that led it.
    private var leaderOfTerm: [Term: NodeID] = [:]
    /// (index, term) → the command and the term before it; equal keys must mean equal prefixes.
    private var entryRecords: [EntryKey: EntryRecord] = [:]
    /// The committed prefix of the log as the cluster has revealed it so far.
    private(set) var committed: [Entry] = []
    /// For each committed index, the term of the node that first reported it committed: an upper
    /// bound on the term it was committed in. Leaders of later terms must hold it (§5.4).
    private var committedInTerm: [Term] = []
    private var seenCommit: [LogIndex]
    private var seenTerm: [Term]
    private var leaderCheckedThrough: [Int]
    private var leaderCheckedTerm: [Term]
    /// (voter, term) → the candidate it granted, remembered across the voter's crashes.
    private var grantedVotes: [VoteKey: NodeID] = [:]
    private struct VoteKey: Hashable { var voter: NodeID; var term: Term }

    init(clusterSize: Int) {
        self.clusterSize = clusterSize
        seenCommit = Array(repeating: 0, count: clusterSize)
        seenTerm = Array(repeating: 0, count: clusterSize)
        leaderCheckedThrough = Array(repeating: 0, count: clusterSize)
        leaderCheckedTerm = Array(repeating: -1, count: clusterSize)
    }

    private mutating func fail(_ message: String) {
        if violation == nil { violation = message }
    }

    mutating func failExternally(_ message: String) { fail(message) }

    /// A node's durable hard state is about to change from `old` to `new`.
    mutating func checkHardStateWrite(node: NodeID, old: HardState, new: HardState) {
        if new.term < old.term {
            fail("node \(node) persisted term \(new.term) after \(old.term)")
        }
        if new.term == old.term, let oldVote = old.votedFor, new.votedFor != oldVote {
            fail("node \(node) changed its persisted vote in term \(new.term) from \(oldVote) to \(new.votedFor.map(String.init) ?? "none")")
        }
    }

    /// Log matching: an (index, term) pair names one command and one predecessor term, everywhere.
    mutating func checkWrittenEntries(node: NodeID, entries: [Entry], log: RaftLog) {
        for entry in entries {
            let previousTerm = log.term(at: entry.index - 1) ?? -1
            let record = EntryRecord(data: entry.data, previousTerm: previousTerm)
            let key = EntryKey(index: entry.index, term: entry.term)
            if let known = entryRecords[key] {
                if known != record {
                    fail("log matching: node \(node) holds \(entry) with command \(entry.data.debugDescription) after term \(previousTerm), elsewhere \(known.data.debugDescription) after term \(known.previousTerm)")
                }
            } else {
                entryRecords[key] = record
            }
        }
    }

    /// Persist before you speak (Figure 2): a granted vote and an append acknowledgement may
    /// leave a node only once its disk already holds what they promise; and no node grants two
    /// candidates in one term, even across crashes.
    mutating func checkOutgoing(_ envelope: Envelope, durable: SimNode) {
        switch envelope.message {
        case .voteResponse(let response) where response.granted && !response.preVote:
            let disk = durable.durableHardState
            if disk.term != envelope.term || disk.votedFor != envelope.to {
                fail("node \(envelope.from) granted its vote to \(envelope.to) in term \(envelope.term) before persisting it (disk: \(disk))")
            }
            let key = VoteKey(voter: envelope.from, term: envelope.term)
            if let earlier = grantedVotes[key], earlier != envelope.to {
                fail("node \(envelope.from) voted twice in term \(envelope.term): for \(earlier) and for \(envelope.to)")
            }
            grantedVotes[key] = envelope.to
        case .appendResponse(let response) where response.success:
            let match = response.matchIndex
            if !durable.durablyCovers(index: match) && durable.durableTerm(at: match) != durable.raft?.log.term(at: match) {
                fail("node \(envelope.from) acknowledged index \(match) before persisting it")
            }
        default:
            break
        }
    }

    /// A node crashed: what it knew of the commit index is gone with its memory.
    mutating func nodeRestarted(_ node: NodeID) {
        seenCommit[node] = 0
        leaderCheckedTerm[node] = -1
    }

    /// Runs after every step of `node`.
    mutating func checkAfterStep(node: NodeID, raft: RaftNode) {
        if let problem = raft.testOnly_checkInvariants() {
            fail("node \(node): \(problem)")
        }
        if raft.term < seenTerm[node] {
            fail("node \(node) went back from term \(seenTerm[node]) to \(raft.term)")
        }
        seenTerm[node] = raft.term

        if raft.isLeader {
            if let other = leaderOfTerm[raft.term], other != node {
                fail("two leaders in term \(raft.term): nodes \(other) and \(node)")
            }
            leaderOfTerm[raft.term] = node
        }

        // State machine safety: what a node commits matches what anyone committed at that index.
        if raft.commitIndex > seenCommit[node] {
            for index in (seenCommit[node] + 1)...raft.commitIndex where index > raft.log.snapshotIndex {
                let entry = raft.log.entry(at: index)
                if index <= committed.count {
                    if committed[index - 1] != entry {
                        fail("state machine safety: node \(node) commits \(entry) \(entry.data.debugDescription) at \(index), but \(committed[index - 1]) \(committed[index - 1].data.debugDescription) was committed there")
                    }
                } else if index == committed.count + 1 {
                    committed.append(entry)
                    committedInTerm.append(raft.term)
                } else {
                    fail("node \(node) committed \(index) beyond the known committed prefix \(committed.count)")
                }
            }
            seenCommit[node] = raft.commitIndex
        }
    }

    /// Leader completeness: a leader holds every entry committed in an earlier term. (A deposed
    /// leader that has not heard of newer terms may lack later commits; that is allowed.)
    mutating func checkLeaderCompleteness(node: NodeID, raft: RaftNode) {
        guard raft.isLeader else { return }
        if leaderCheckedTerm[node] != raft.term {
            leaderCheckedTerm[node] = raft.term
            leaderCheckedThrough[node] = 0
        }
        var index = leaderCheckedThrough[node]
        while index < committed.count {
            let entry = committed[index]
            if committedInTerm[index] < raft.term, entry.index > raft.log.snapshotIndex,
               raft.log.term(at: entry.index) != entry.term {
                fail("leader completeness: leader \(node) of term \(raft.term) lacks committed \(entry)")
                return
            }
            index += 1
        }
        leaderCheckedThrough[node] = index
    }

    /// Committed entries are stable: a node whose durable log lacks one can never again collect
    /// a majority of votes under the up-to-date rule (§5.4.1), counting crashed nodes' disks.
    /// This is the heart of the §5.4 safety argument; checking it when an entry commits catches
    /// a dangerous commit (Figure 8) at once, before any later election has to exploit it.
    mutating func checkCommittedEntriesAreStable(from firstNew: Int, nodes: [SimNode]) {
        guard firstNew < committed.count else { return }
        let lasts = nodes.map(\.durableLast)
        let majority = clusterSize / 2 + 1
        for entry in committed[firstNew...] {
            for (candidate, node) in nodes.enumerated() {
                if node.durablyCovers(index: entry.index) || node.durableTerm(at: entry.index) == entry.term { continue }
                let voters = (0..<clusterSize).filter { voter in
                    lasts[voter].term < lasts[candidate].term
                        || (lasts[voter].term == lasts[candidate].term && lasts[voter].index <= lasts[candidate].index)
                }
                if voters.count >= majority {
                    fail("committed \(entry) is not stable: node \(candidate) lacks it yet nodes \(voters) would vote for it")
                    return
                }
            }
        }
    }

    /// A snapshot (taken or installed) holds exactly the committed commands through its index.
    mutating func checkSnapshot(node: NodeID, _ snapshot: Snapshot) {
        guard snapshot.index <= committed.count else {
            fail("node \(node) holds a snapshot through \(snapshot.index), beyond the committed prefix \(committed.count)")
            return
        }
        let expected = committed[0..<snapshot.index].filter { !$0.isNoop }.map(\.data)
        if SimNode.decode(snapshot.data) != expected {
            fail("node \(node)'s snapshot through \(snapshot.index) does not hold the committed commands")
        }
        if snapshot.index > 0 && committed[snapshot.index - 1].term != snapshot.term {
            fail("node \(node)'s snapshot claims term \(snapshot.term) at \(snapshot.index)")
        }
    }

    /// Linearizable reads: a read point is never older than what was committed when the read began.
    mutating func checkReadPoint(node: NodeID, _ state: ReadState, committedWhenAsked: Int) {
        if state.index < committedWhenAsked {
            fail("stale read: node \(node) answered read \(state.id) at index \(state.index), but \(committedWhenAsked) was committed before it was asked")
        }
    }

    /// Gap-free apply of exactly the committed commands.
    mutating func checkApplied(node: NodeID, entries: [Entry], appliedIndex: LogIndex) {
        var expected = appliedIndex + 1
        for entry in entries {
            if entry.index != expected {
                fail("node \(node) applied \(entry.index) after \(expected - 1)")
                return
            }
            if entry.index > committed.count || committed[entry.index - 1] != entry {
                fail("node \(node) applied \(entry) which is not the committed entry at \(entry.index)")
                return
            }
            expected += 1
        }
    }
}
