import RaftCore

/// Watches every step of a run — simulated, or replayed from a real run's recording — and records
/// the first broken safety property: election safety (across configurations), log matching,
/// leader completeness, state machine safety, gap-free apply, terms that never decrease, votes
/// that never change within a term, persist-before-send, commits backed by a majority of voters'
/// disks (a learner or an undurable copy never counts), committed entries that no electable node
/// lacks, and no removed node ever elected (Raft paper, Figure 3; thesis §4).
///
/// Nodes are named by id; the checker never iterates a dictionary where order reaches its output.
public struct SafetyChecker: Sendable {
    private struct EntryKey: Hashable { var index: LogIndex; var term: Term }
    private struct EntryRecord: Equatable { var data: String; var configuration: ClusterConfiguration?; var previousTerm: Term }
    private struct VoteKey: Hashable { var voter: NodeID; var term: Term }

    /// The configuration before any configuration entry.
    public let bootstrap: ClusterConfiguration
    public private(set) var violation: String?
    /// term → the one node that led it.
    private var leaderOfTerm: [Term: NodeID] = [:]
    /// (index, term) → the command and the term before it; equal keys must mean equal prefixes.
    private var entryRecords: [EntryKey: EntryRecord] = [:]
    /// The committed entries after `committedBase`, as the cluster has revealed them so far.
    public private(set) var committed: [Entry] = []
    /// Entries through here were committed before the checks began (a replay that starts
    /// mid-run); they are taken on trust. 0 for a run watched from its start.
    public private(set) var committedBase: LogIndex = 0
    private var configurationAtBase: ClusterConfiguration?
    /// For each committed index, the term of the node that first reported it committed: an upper
    /// bound on the term it was committed in. Leaders of later terms must hold it (§5.4).
    private var committedInTerm: [Term] = []
    private var seenTerm: [NodeID: Term] = [:]
    private var leaderCheckedThrough: [NodeID: Int] = [:]
    private var leaderCheckedTerm: [NodeID: Term] = [:]
    /// (voter, term) → the candidate it granted, remembered across the voter's crashes.
    private var grantedVotes: [VoteKey: NodeID] = [:]

    public init(bootstrap: ClusterConfiguration) {
        self.bootstrap = bootstrap
    }

    /// Checks that begin mid-run: everything through `base` is committed (with `configuration`
    /// in force there) and is not checked.
    public init(committedThrough base: LogIndex, configuration: ClusterConfiguration) {
        self.bootstrap = configuration
        self.committedBase = base
        self.configurationAtBase = configuration
    }

    /// The last index known committed.
    public var committedThrough: LogIndex { committedBase + committed.count }

    /// The committed entry at `index`, when known.
    private func committedEntry(at index: LogIndex) -> Entry? {
        let position = index - committedBase - 1
        return position >= 0 && position < committed.count ? committed[position] : nil
    }

    mutating func fail(_ message: String) {
        if violation == nil { violation = message }
    }

    public mutating func failExternally(_ message: String) { fail(message) }

    /// The latest configuration in the committed prefix.
    public var committedConfiguration: ClusterConfiguration {
        committed.last { $0.isConfiguration }?.configuration ?? configurationAtBase ?? bootstrap
    }

    /// A node's durable hard state is about to change from `old` to `new`.
    public mutating func checkHardStateWrite(node: NodeID, old: HardState, new: HardState) {
        if new.term < old.term {
            fail("node \(node) persisted term \(new.term) after \(old.term)")
        }
        if new.term == old.term, let oldVote = old.votedFor, new.votedFor != oldVote {
            fail("node \(node) changed its persisted vote in term \(new.term) from \(oldVote) to \(new.votedFor.map(String.init) ?? "none")")
        }
    }

    /// Log matching: an (index, term) pair names one command and one predecessor term, everywhere.
    /// `previousTerm` is the term the node holds just before the first written entry.
    public mutating func checkWrittenEntries(node: NodeID, entries: [Entry], previousTerm: Term?) {
        var previous = previousTerm ?? -1
        for entry in entries {
            let record = EntryRecord(data: entry.data, configuration: entry.configuration, previousTerm: previous)
            let key = EntryKey(index: entry.index, term: entry.term)
            if let known = entryRecords[key] {
                if known != record {
                    fail("log matching: node \(node) holds \(entry) with command \(entry.data.debugDescription) after term \(previous), elsewhere \(known.data.debugDescription) after term \(known.previousTerm)")
                }
            } else {
                entryRecords[key] = record
            }
            previous = entry.term
        }
    }

    /// Persist before you speak (Figure 2): a granted vote and an append acknowledgement may
    /// leave a node only once its disk already holds what they promise; and no node grants two
    /// candidates in one term, even across crashes.
    public mutating func checkOutgoing(_ envelope: Envelope, durable: DurableView, memory: RaftLog?) {
        switch envelope.message {
        case .voteResponse(let response) where response.granted && !response.preVote:
            // The disk must rule out a second vote in that term: it records this vote, or a later term.
            let disk = durable.hardState
            if disk.term < envelope.term || (disk.term == envelope.term && disk.votedFor != envelope.to) {
                fail("node \(envelope.from) granted its vote to \(envelope.to) in term \(envelope.term) before persisting it (disk: \(disk))")
            }
            let key = VoteKey(voter: envelope.from, term: envelope.term)
            if let earlier = grantedVotes[key], earlier != envelope.to {
                fail("node \(envelope.from) voted twice in term \(envelope.term): for \(earlier) and for \(envelope.to)")
            }
            grantedVotes[key] = envelope.to
        case .appendResponse(let response) where response.success:
            let match = response.matchIndex
            if !durable.covers(match) && durable.term(at: match) != memory?.term(at: match) {
                fail("node \(envelope.from) acknowledged index \(match) before persisting it")
            }
        default:
            break
        }
    }

    /// A node crashed: what it knew is gone with its memory.
    public mutating func nodeRestarted(_ node: NodeID) {
        leaderCheckedTerm[node] = -1
    }

    /// Runs after every step of `node`: the core's own invariants, terms that never go back,
    /// one leader per term, and no removed node elected.
    public mutating func checkAfterStep(node: NodeID, raft: RaftNode) {
        if let problem = raft.testOnly_checkInvariants() {
            fail("node \(node): \(problem)")
        }
        if raft.term < seenTerm[node, default: 0] {
            fail("node \(node) went back from term \(seenTerm[node, default: 0]) to \(raft.term)")
        }
        seenTerm[node] = raft.term

        if raft.isLeader {
            if let other = leaderOfTerm[raft.term], other != node {
                fail("two leaders in term \(raft.term): nodes \(other) and \(node)")
            }
            if leaderOfTerm[raft.term] == nil {
                leaderOfTerm[raft.term] = node
                if !committedConfiguration.contains(node) {
                    fail("node \(node), removed by the committed configuration \(committedConfiguration), was elected leader of term \(raft.term)")
                }
            }
        }
    }

    /// `node`'s core declared `entries` committed. State machine safety: they match what anyone
    /// committed at those indexes. The first node to commit an index is a leader whose voters
    /// must hold it on `disks` — voters of the configuration in force when it decided, which is
    /// the one before this step (`configurationBefore`) or, when the step changed it, the current one.
    public mutating func checkCommitted(node: NodeID, entries: [Entry], raft: RaftNode, configurationBefore: ClusterConfiguration,
                                        disks: [NodeID: DurableView]) {
        for entry in entries {
            let index = entry.index
            if index <= committedBase {
                continue
            } else if let known = committedEntry(at: index) {
                if known != entry {
                    fail("state machine safety: node \(node) commits \(entry) \(entry.data.debugDescription) at \(index), but \(known) \(known.data.debugDescription) was committed there")
                }
            } else if index == committedThrough + 1 {
                // The first to commit an index led when it did (it may have stepped down since,
                // within the same batch of inputs): its voters' disks must back the commit.
                checkCommitIsBacked(entry, leader: node, configurations: [configurationBefore, raft.configuration], disks: disks)
                committed.append(entry)
                committedInTerm.append(raft.term)
            } else {
                fail("node \(node) committed \(index) beyond the known committed prefix \(committedThrough)")
            }
        }
    }

    /// A leader commits an entry only when a majority of the voters of its configuration hold it
    /// on disk: a learner's copy, or the leader's own copy before it is durable, never counts.
    /// A voter whose disk is not in `disks` is taken on trust: a replay of a bounded recording
    /// may not know it yet (a node added after the oldest record kept); the simulator passes all.
    private mutating func checkCommitIsBacked(_ entry: Entry, leader: NodeID, configurations: [ClusterConfiguration],
                                              disks: [NodeID: DurableView]) {
        func holders(_ configuration: ClusterConfiguration) -> [NodeID] {
            configuration.voters.filter { disks[$0]?.holds(index: entry.index, term: entry.term) ?? true }
        }
        guard !configurations.contains(where: { holders($0).count >= $0.quorum }) else { return }
        let last = configurations.last!
        fail("leader \(leader) committed \(entry) held durably by voters \(holders(last)) only, fewer than a majority of \(last)")
    }

    /// Leader completeness: a leader holds every entry committed in an earlier term. (A deposed
    /// leader that has not heard of newer terms may lack later commits; that is allowed.)
    public mutating func checkLeaderCompleteness(node: NodeID, raft: RaftNode) {
        guard raft.isLeader else { return }
        if leaderCheckedTerm[node] != raft.term {
            leaderCheckedTerm[node] = raft.term
            leaderCheckedThrough[node] = 0
        }
        var index = leaderCheckedThrough[node, default: 0]
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

    /// Committed entries are stable: a node whose disk lacks one can never again collect a
    /// majority of the voters of its own configuration under the up-to-date rule (§5.4.1),
    /// counting crashed nodes' disks. This is the heart of the §5.4 safety argument, and of the
    /// single-server membership argument (thesis §4.1); checking it when an entry commits
    /// catches a dangerous commit (Figure 8, two changes at once) before any election exploits it.
    /// A voter whose disk is not in `disks` (a replay that has no recording of it yet) is taken on
    /// trust: it is not counted as voting for a node that lacks the entry.
    public mutating func checkCommittedEntriesAreStable(from firstNew: Int, disks: [NodeID: DurableView]) {
        guard firstNew < committed.count else { return }
        let ids = disks.keys.sorted()
        for entry in committed[firstNew...] {
            for candidate in ids {
                let disk = disks[candidate]!
                guard disk.configuration.isVoter(candidate), !disk.holds(index: entry.index, term: entry.term) else { continue }
                let last = disk.last
                let voters = disk.configuration.voters.filter { voter in
                    voter == candidate || (disks[voter]?.wouldVote(for: last) ?? false)
                }
                if voters.count >= disk.configuration.quorum {
                    fail("committed \(entry) is not stable: node \(candidate) lacks it yet voters \(voters) of its configuration \(disk.configuration) would elect it")
                    return
                }
            }
        }
    }

    /// A snapshot (taken or installed) holds exactly the committed commands through its index,
    /// and the configuration in force there. `commands` is what the snapshot's state says was applied
    /// (nil for a state that does not list its commands: its content is then checked elsewhere).
    public mutating func checkSnapshot(node: NodeID, _ snapshot: Snapshot, commands: [String]?) {
        guard committedBase == 0 else { return }  // the commands before the base are unknown
        guard snapshot.index <= committed.count else {
            fail("node \(node) holds a snapshot through \(snapshot.index), beyond the committed prefix \(committed.count)")
            return
        }
        if let commands, commands != committed[0..<snapshot.index].filter({ !$0.data.isEmpty }).map(\.data) {
            fail("node \(node)'s snapshot through \(snapshot.index) does not hold the committed commands")
        }
        if snapshot.index > 0 && committed[snapshot.index - 1].term != snapshot.term {
            fail("node \(node)'s snapshot claims term \(snapshot.term) at \(snapshot.index)")
        }
        let configuration = committed[0..<snapshot.index].last { $0.isConfiguration }?.configuration ?? bootstrap
        if let recorded = snapshot.configuration, recorded != configuration {
            fail("node \(node)'s snapshot through \(snapshot.index) records configuration \(recorded), but \(configuration) was in force there")
        }
    }

    /// Linearizable reads: a read is never served from state older than what was committed when
    /// the read began.
    public mutating func checkRead(node: NodeID, id: UInt64, servedAt applied: LogIndex, committedWhenAsked: Int) {
        if applied < committedWhenAsked {
            fail("stale read: node \(node) answered read \(id) from state through \(applied), but \(committedWhenAsked) was committed before it was asked")
        }
    }

    /// Gap-free apply of exactly the committed commands: `applied` are (index, command) pairs
    /// the node applied, continuing right after `previous`.
    public mutating func checkApplied(node: NodeID, applied: [(index: LogIndex, command: String)], after previous: LogIndex) {
        guard previous >= committedBase else { return }  // began before the checks did
        var expected = previous + 1
        for (index, command) in applied {
            if index < expected {
                fail("node \(node) applied \(index) after \(expected - 1)")
                return
            }
            // Entries without a command (no-ops, configurations) are skipped by the state machine.
            while expected < index {
                if committedEntry(at: expected).map({ !$0.data.isEmpty }) ?? true {
                    fail("node \(node) applied \(index) but skipped committed command \(expected)")
                    return
                }
                expected += 1
            }
            if committedEntry(at: index)?.data != command {
                fail("node \(node) applied \(command.debugDescription) at \(index), which is not the committed command there")
                return
            }
            expected += 1
        }
    }
}
