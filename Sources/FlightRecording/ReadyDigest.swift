import RaftCore

/// A compact fingerprint of one `Ready` and of the core right after handing it out: a few
/// readable figures and a 64-bit hash of everything structural in it (every message's kind,
/// addresses and fields, every entry's index, term and size, the hard state, commits, reads,
/// snapshot, events). Cheap enough to take on every Ready of a live node; a replay that hands
/// out a different Ready gets a different digest.
public struct ReadyDigest: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The core's term and commit index after the call.
    public var term: Term
    public var commit: LogIndex
    /// The last log index after the call.
    public var last: LogIndex
    /// Messages handed out (early and late).
    public var messages: Int
    /// Entries to write, and entries committed.
    public var entries: Int
    public var committed: Int
    public var hash: UInt64

    public init(_ ready: Ready, core: RaftNode) {
        term = core.term
        commit = core.commitIndex
        last = core.log.lastIndex
        messages = ready.earlyMessages.count + ready.messages.count
        entries = ready.entries.count
        committed = ready.committedEntries.count
        var hasher = StableHasher()
        hasher.add(core.roleKind.hashCode)
        hasher.add(core.leaderID ?? -1)
        if let hardState = ready.hardState {
            hasher.add(1)
            hasher.add(hardState.term)
            hasher.add(hardState.votedFor ?? -1)
        }
        if let snapshot = ready.snapshot {
            hasher.add(2)
            hasher.add(snapshot.index)
            hasher.add(snapshot.term)
            hasher.add(snapshot.data.count)
        }
        hasher.add(ready.logReplaced ? 3 : 4)
        for entry in ready.entries { hasher.add(entry) }
        hasher.add(5)
        for envelope in ready.earlyMessages { hasher.add(envelope) }
        hasher.add(6)
        for envelope in ready.messages { hasher.add(envelope) }
        hasher.add(7)
        for entry in ready.committedEntries { hasher.add(entry) }
        hasher.add(8)
        for state in ready.readStates {
            hasher.add(Int(truncatingIfNeeded: state.id))
            hasher.add(state.index)
        }
        hasher.add(ready.events.count)
        hash = hasher.value
    }

    public var description: String {
        "term \(term) commit \(commit) last \(last), \(messages) message\(messages == 1 ? "" : "s"), \(entries) to write, \(committed) committed, hash \(String(hash, radix: 16))"
    }
}

/// FNV-1a over 64-bit words: the same input gives the same value in every process (Swift's
/// `Hasher` is seeded per process, so it cannot be used for recordings).
struct StableHasher {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ word: Int) {
        value = (value ^ UInt64(bitPattern: Int64(word))) &* 0x0000_0100_0000_01B3
        value ^= value >> 29
    }

    mutating func add(_ entry: Entry) {
        add(entry.index)
        add(entry.term)
        add(entry.data.utf8.count)
        add(entry.configuration.map { $0.members.count * 2 + 1 } ?? 0)
    }

    mutating func add(_ envelope: Envelope) {
        add(envelope.from)
        add(envelope.to)
        add(envelope.term)
        switch envelope.message {
        case .voteRequest(let m):
            add(10 + (m.preVote ? 1 : 0) + (m.transfer ? 2 : 0))
            add(m.lastLogIndex)
            add(m.lastLogTerm)
        case .voteResponse(let m):
            add(20 + (m.preVote ? 1 : 0) + (m.granted ? 2 : 0))
        case .appendRequest(let m):
            add(30)
            add(m.prevLogIndex)
            add(m.prevLogTerm)
            add(m.leaderCommit)
            add(Int(truncatingIfNeeded: m.readContext))
            add(m.entries.count)
            for entry in m.entries { add(entry) }
        case .appendResponse(let m):
            add(40 + (m.success ? 1 : 0))
            add(m.matchIndex)
            add(m.rejectedIndex)
            add(m.hintIndex)
            add(m.hintTerm ?? -1)
            add(Int(truncatingIfNeeded: m.readContext))
        case .snapshotRequest(let m):
            add(50 + (m.done ? 1 : 0))
            add(m.index)
            add(m.term)
            add(m.offset)
            add(m.data.count)
        case .snapshotResponse(let m):
            add(60)
            add(m.index)
            add(m.received)
        case .timeoutNow:
            add(70)
        case .readIndexRequest(let m):
            add(80)
            add(m.ids.count)
            for id in m.ids { add(Int(truncatingIfNeeded: id)) }
        case .readIndexResponse(let m):
            add(90)
            add(m.index)
            add(m.ids.count)
            for id in m.ids { add(Int(truncatingIfNeeded: id)) }
        }
    }
}

extension RoleKind {
    var hashCode: Int {
        switch self {
        case .follower: return 1
        case .preCandidate: return 2
        case .candidate: return 3
        case .leader: return 4
        }
    }
}
