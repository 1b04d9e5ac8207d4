import FlightRecording
import RaftCore
import RaftVerification

/// What stopped a replay: the re-run disagreed with the recording (`divergence`), a safety
/// property broke (`violation`), or the recording itself is unusable (`badTrace`).
public struct ReplayProblem: Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable { case divergence, violation, badTrace }
    public var kind: Kind
    public var step: Int
    public var node: NodeID
    public var seq: Int
    public var text: String

    public var description: String {
        let what: String
        switch kind {
        case .divergence: what = "the replay diverged from the recording"
        case .violation: what = "safety violation"
        case .badTrace: what = "unusable recording"
        }
        return "\(what) at step \(step) (node \(node), record \(seq)): \(text)"
    }
}

/// One replayed step, for a step-by-step listing.
public struct ReplayStep: Sendable {
    public var step: Int
    public var time: UInt64
    public var node: NodeID
    public var seq: Int
    public var text: String
}

/// How far a replay got and what it checked.
public struct ReplaySummary: Sendable {
    /// Records replayed, over all nodes.
    public var steps = 0
    public var readies = 0
    public var checkpointsMatched = 0
    public var restarts = 0
    /// The step from which the safety checks ran (nil: they never could — see `uncheckedReason`),
    /// and the commit index taken on trust there (0: the recording begins with the cluster).
    public var checkedFromStep: Int?
    public var trustedThrough = 0
    public var uncheckedReason: String?
    public var problem: ReplayProblem?
    /// Every record of every node was replayed.
    public var finished = false
}

/// Re-runs every recorded node's core from its recording, merged across nodes in time order:
/// each input is fed to a core rebuilt from the recorded start (or checkpoint), every `Ready`
/// the re-run hands out must match the recorded digest, every checkpoint must equal the re-run
/// core field for field, and the simulator's safety checker watches the whole cluster — the
/// disks as the pipeline wrote them, the messages, the commits, the leaders.
///
/// The checks start once every voter the started nodes know of has a recording under way
/// (a recording that begins mid-run is checked from there; earlier commits are taken on trust).
public final class Replayer {
    final class Track {
        let trace: NodeTrace
        var cursor = 0
        var core: RaftNode?
        var disk: DiskModel?
        /// The configuration before the inputs of the Ready being built (for commit checks).
        var configurationBefore = ClusterConfiguration.empty
        /// The last record ended a batch of inputs (a Ready, a start, a checkpoint).
        var quiet = true
        var lastSeq: Int?
        var lastLeaderContact: UInt64?
        /// A Ready was performed; the checks that follow a step wait for the next record, which
        /// says whether the pipeline finished it (a `stop` means its writes failed part-way).
        var stepChecksDue = false
        var committedBeforeStep = 0
        /// The node stopped because a write failed: its disk may hold only part of the last Ready.
        var diskUncertain = false

        init(trace: NodeTrace) { self.trace = trace }

        var id: NodeID { trace.node }
        var next: TraceRecord? { cursor < trace.records.count ? trace.records[cursor] : nil }
    }

    let tracks: [Track]
    private(set) var checker: SafetyChecker?
    public private(set) var summary = ReplaySummary()
    /// The time of the last replayed record.
    public private(set) var now: UInt64 = 0

    public init(traces: [NodeTrace]) {
        tracks = traces.sorted { $0.node < $1.node }.map(Track.init)
    }

    /// The replayed nodes' ids.
    public var nodeIDs: [NodeID] { tracks.map(\.id) }

    /// The re-run core of `node` now (nil: down, or not started yet).
    public func core(_ node: NodeID) -> RaftNode? { tracks.first { $0.id == node }?.core }

    /// Nanoseconds since `node` last heard from a leader, at the current step (nil: never).
    public func sinceLeaderContact(_ node: NodeID) -> UInt64? {
        guard let track = tracks.first(where: { $0.id == node }), let last = track.lastLeaderContact else { return nil }
        return now &- last
    }

    /// Replays until the recording ends, a problem is found, or `limit` steps in all have run.
    /// `observe` sees each step as it is replayed.
    @discardableResult
    public func run(until limit: Int? = nil, observe: ((ReplayStep) -> Void)? = nil) -> ReplaySummary {
        while summary.problem == nil {
            if let limit, summary.steps >= limit { break }
            guard let track = nextTrack() else {
                for track in tracks where track.stepChecksDue {
                    track.stepChecksDue = false
                    checkAfterStep(track)
                }
                summary.finished = summary.problem == nil
                break
            }
            let record = track.next!
            track.cursor += 1
            summary.steps += 1
            now = record.time
            observe?(ReplayStep(step: summary.steps, time: record.time, node: track.id, seq: record.seq, text: record.description))
            replay(record, on: track)
            if checker == nil { startCheckingIfPossible() }
        }
        if checker == nil && summary.uncheckedReason == nil {
            summary.uncheckedReason = "some voters were never recorded: \(unrecordedVoters().map(String.init).joined(separator: ", "))"
        }
        return summary
    }

    /// The track whose next record is earliest (ties: the lower node id).
    private func nextTrack() -> Track? {
        var best: Track?
        for track in tracks {
            guard let record = track.next else { continue }
            if best == nil || record.time < best!.next!.time { best = track }
        }
        return best
    }

    private func problem(_ kind: ReplayProblem.Kind, _ track: Track, _ record: TraceRecord, _ text: String) {
        guard summary.problem == nil else { return }
        summary.problem = ReplayProblem(kind: kind, step: summary.steps, node: track.id, seq: record.seq, text: text)
    }

    // MARK: - One record

    private func replay(_ record: TraceRecord, on track: Track) {
        if track.stepChecksDue {
            track.stepChecksDue = false
            if case .stop = record.event {} else { checkAfterStep(track) }
            if summary.problem != nil { return }
        }
        if case .checkpoint = record.event {
            // A state, not an event: it carries the number the next event will have.
        } else {
            if let last = track.lastSeq, record.seq != last + 1 {
                return problem(.badTrace, track, record, "records \(last + 1)...\(record.seq - 1) are missing")
            }
            track.lastSeq = record.seq
        }
        switch record.event {
        case .start(let core, _):
            guard core.id == track.id else { return problem(.badTrace, track, record, "the recorded core is node \(core.id)") }
            if var disk = track.disk, !track.diskUncertain, let lost = Self.lostDurableState(disk.view(), loaded: core) {
                return problem(.violation, track, record, "node \(track.id) came back with less than it had made durable (\(lost)): acknowledged writes and votes can be lost this way — a power cut with fsync off?")
            }
            track.diskUncertain = false
            begin(track, at: core)
            summary.restarts += 1
            checker?.nodeRestarted(track.id)
        case .checkpoint(let recorded):
            guard let core = track.core else {
                guard track.cursor == 1 else { return problem(.badTrace, track, record, "a checkpoint while the node is down") }
                return begin(track, at: recorded)
            }
            if let difference = Self.difference(recorded: recorded, replayed: core) {
                return problem(.divergence, track, record, "the node's state differs from the recorded checkpoint: \(difference)")
            }
            summary.checkpointsMatched += 1
        case .stop(_, let failed):
            track.core = nil
            track.quiet = true
            track.diskUncertain = failed
        case .input(let input):
            guard track.core != nil else {
                return problem(.badTrace, track, record, "an input (\(input.description)) while the node is down or before it started")
            }
            if track.quiet && !input.isTakeReady {
                track.configurationBefore = track.core!.configuration
                track.quiet = false
            }
            if let mismatch = apply(input, to: track) { problem(.divergence, track, record, mismatch) }
        }
    }

    private func begin(_ track: Track, at core: RaftNode) {
        track.core = core
        track.disk = DiskModel(bootstrap: core.configuration(at: core.log.snapshotIndex), hardState: core.hardState,
                               snapshot: core.snapshot, log: core.log.entries)
        track.quiet = true
    }

    /// Feeds one input to the re-run core. Returns how it disagrees with the recording, if it does.
    private func apply(_ input: CoreInput, to track: Track) -> String? {
        switch input {
        case .tick(let count):
            for _ in 0..<count { track.core!.tick() }
        case .receive(let envelope):
            if case .appendRequest = envelope.message, envelope.term >= track.core!.term { track.lastLeaderContact = now }
            track.core!.receive(envelope)
        case .propose(let commands, let recorded):
            let result = track.core!.propose(batch: commands)
            if result != recorded { return "proposing \(commands.count) commands gave \(result), recorded \(recorded)" }
        case .readIndex(let ids, let recorded):
            let accepted = track.core!.readIndex(ids: ids)
            if accepted != recorded { return "a read-index request was \(accepted ? "accepted" : "refused"), recorded \(recorded ? "accepted" : "refused")" }
        case .changeConfiguration(let change, let recorded):
            let result = describe(track.core!.proposeConfigurationChange(change))
            if result != recorded { return "the change \(change) gave \"\(result)\", recorded \"\(recorded)\"" }
        case .transferLeadership(let target, let recorded):
            let result = describe(track.core!.transferLeadership(to: target))
            if result != recorded { return "the transfer to \(target) gave \"\(result)\", recorded \"\(recorded)\"" }
        case .persisted(let index, let term):
            track.core!.persisted(through: index, term: term)
        case .compact(let snapshot):
            let configuration = track.core!.configuration(at: snapshot.index)
            track.disk?.saveSnapshot(Snapshot(index: snapshot.index, term: snapshot.term, data: snapshot.data, configuration: configuration))
            track.disk?.compact(through: snapshot.index)
            track.core!.compact(through: snapshot.index, data: snapshot.data)
        case .takeReady(let recorded):
            let ready = track.core!.takeReady()
            let replayed = ReadyDigest(ready, core: track.core!)
            track.quiet = true
            summary.readies += 1
            if replayed != recorded {
                return "takeReady handed out a different Ready — recorded \(recorded); replayed \(replayed): \(ready)"
            }
            perform(ready, on: track)
        }
        return nil
    }

    // MARK: - The pipeline's writes, and the checks

    /// Does to the node's disk what the pipeline did with the Ready, in the pipeline's order,
    /// with the safety checks where the simulator makes them.
    private func perform(_ ready: Ready, on track: Track) {
        let id = track.id
        let committedBefore = checker?.committed.count ?? 0
        if !ready.committedEntries.isEmpty, checker != nil {
            let disks = durableViews()
            checker!.checkCommitted(node: id, entries: ready.committedEntries, raft: track.core!,
                                    configurationBefore: track.configurationBefore, disks: disks)
        }
        if let snapshot = ready.snapshot { track.disk!.saveSnapshot(snapshot) }
        if let hardState = ready.hardState {
            checker?.checkHardStateWrite(node: id, old: track.disk!.hardState, new: hardState)
            track.disk!.saveHardState(hardState)
        }
        if checker != nil {
            for envelope in ready.earlyMessages {
                checker!.checkOutgoing(envelope, durable: track.disk!.view(), memory: track.core!.log)
            }
        }
        if ready.logReplaced {
            track.disk!.replaceLog(ready.entries)
        } else if let first = ready.entries.first {
            if checker != nil {
                let previous = track.disk!.view().term(at: first.index - 1)
                checker!.checkWrittenEntries(node: id, entries: ready.entries, previousTerm: previous)
            }
            track.disk!.write(ready.entries)
        }
        guard checker != nil else { return }
        for envelope in ready.messages {
            checker!.checkOutgoing(envelope, durable: track.disk!.view(), memory: track.core!.log)
        }
        reportViolation(track)
        if !track.stepChecksDue { track.committedBeforeStep = committedBefore }
        track.stepChecksDue = true
    }

    /// The checks after a completed step: the core's invariants and terms, one leader per term,
    /// committed entries stable on the disks, leaders complete.
    private func checkAfterStep(_ track: Track) {
        guard checker != nil, let core = track.core else { return }
        checker!.checkAfterStep(node: track.id, raft: core)
        checker!.checkCommittedEntriesAreStable(from: min(track.committedBeforeStep, checker!.committed.count), disks: durableViews())
        for other in tracks {
            if let core = other.core, core.isLeader { checker!.checkLeaderCompleteness(node: other.id, raft: core) }
        }
        reportViolation(track)
    }

    private func reportViolation(_ track: Track) {
        guard let violation = checker?.violation, summary.problem == nil else { return }
        summary.problem = ReplayProblem(kind: .violation, step: summary.steps, node: track.id, seq: track.lastSeq ?? 0, text: violation)
    }

    private func durableViews() -> [NodeID: DurableView] {
        var views: [NodeID: DurableView] = [:]
        for track in tracks where track.disk != nil {
            views[track.id] = track.disk!.view()
        }
        return views
    }

    /// Voters named by the started nodes' configurations that have no recording under way.
    private func unrecordedVoters() -> [NodeID] {
        var voters: Set<NodeID> = []
        for track in tracks {
            if let core = track.core { voters.formUnion(core.configuration.voters) }
        }
        let recorded = Set(tracks.filter { $0.disk != nil }.map(\.id))
        return voters.subtracting(recorded).sorted()
    }

    /// The checks begin once every voter known to the started nodes is being replayed: from the
    /// highest commit index among them, which is taken on trust.
    private func startCheckingIfPossible() {
        let started = tracks.filter { $0.core != nil }
        // A node waiting to be added knows no voters; the checks need a real configuration.
        guard started.contains(where: { !$0.core!.configuration.voters.isEmpty }), unrecordedVoters().isEmpty else { return }
        let furthest = started.max { $0.core!.commitIndex < $1.core!.commitIndex }!.core!
        checker = SafetyChecker(committedThrough: furthest.commitIndex, configuration: furthest.configuration(at: furthest.commitIndex))
        summary.checkedFromStep = summary.steps
        summary.trustedThrough = furthest.commitIndex
        for track in started { checker!.nodeRestarted(track.id) }
    }

    /// What a restarted node lacks of what its pipeline had written (nil: nothing). Every Ready was
    /// fsynced before the pipeline went on, so after a clean stop the files hold at least that.
    static func lostDurableState(_ durable: DurableView, loaded core: RaftNode) -> String? {
        var lost: [String] = []
        let written = durable.hardState
        if core.term < written.term {
            lost.append("term \(written.term) became \(core.term)")
        } else if core.term == written.term, let vote = written.votedFor, core.votedFor != vote {
            lost.append("its vote for node \(vote) in term \(written.term) was forgotten")
        }
        let last = durable.last
        if last.index > core.log.snapshotIndex && core.log.term(at: last.index) != last.term {
            lost.append("its log ended at entry \(last.index) (term \(last.term)), now at \(core.log.lastIndex) (term \(core.log.lastTerm))")
        }
        return lost.isEmpty ? nil : lost.joined(separator: "; ")
    }

    /// What differs between a recorded core and the re-run one, in words (nil: they are equal).
    static func difference(recorded: RaftNode, replayed: RaftNode) -> String? {
        guard recorded != replayed else { return nil }
        var fields: [String] = []
        func compare<T: Equatable>(_ name: String, _ a: T, _ b: T) {
            if a != b { fields.append("\(name) recorded \(a), replayed \(b)") }
        }
        compare("term", recorded.term, replayed.term)
        compare("vote", recorded.votedFor.map(String.init) ?? "none", replayed.votedFor.map(String.init) ?? "none")
        compare("role", recorded.roleKind.rawValue, replayed.roleKind.rawValue)
        compare("leader", recorded.leaderID.map(String.init) ?? "none", replayed.leaderID.map(String.init) ?? "none")
        compare("commit index", recorded.commitIndex, replayed.commitIndex)
        compare("last index", recorded.log.lastIndex, replayed.log.lastIndex)
        compare("last term", recorded.log.lastTerm, replayed.log.lastTerm)
        compare("snapshot index", recorded.log.snapshotIndex, replayed.log.snapshotIndex)
        compare("election timer", recorded.electionElapsed, replayed.electionElapsed)
        compare("election timeout", recorded.electionTimeout, replayed.electionTimeout)
        compare("configuration", recorded.configuration.description, replayed.configuration.description)
        compare("replication", recorded.replicationStatus, replayed.replicationStatus)
        return fields.isEmpty ? "internal state (progress, timers or pending work) differs" : fields.joined(separator: "; ")
    }
}
