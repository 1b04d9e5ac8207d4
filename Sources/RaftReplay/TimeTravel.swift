import FlightRecording
import RaftCore

/// A recording indexed for time travel: the cluster replayed once through the real engines
/// (`Replayer`, with every check), and at each move what changed kept as an index, so that the
/// cluster *as it was after any step* is put together without replaying again:
///
/// - each node's state (role, term, vote, commit, applied, log bounds, configuration, leader
///   progress) after each of its moves, found by a binary search;
/// - each node's log as versions of entries, each valid from the step it was written to the step
///   it was cut or replaced, so the tail at any step is read off directly;
/// - every message sent, with the step it left and the step it arrived (or was pushed out), and
///   the set in flight kept at a checkpoint every `checkpointEvery` steps, from which a jump
///   replays at most that many steps' sends and receipts.
///
/// Step 0 is before the first move; step S is the cluster after move S (a move is one record
/// from outside an engine — a tick, a message, a restart — or a whole flush, as `Replayer.step()`).
/// Built once; read-only afterwards, from any thread.
public final class TimeTravel<Machine: ReplicatedStateMachine>: @unchecked Sendable {
    public let nodeIDs: [NodeID]
    public private(set) var moves: [Move] = []
    public private(set) var events: [TimelineEvent] = []
    /// The replay's own account: how far it got, what it checked, the first problem.
    public private(set) var summary = ReplaySummary()
    /// The time of the earliest record (event times are given from here).
    public let origin: UInt64
    public let traces: [NodeTrace]
    /// Every message the replayed engines sent; a message's `serial` is its place here.
    public private(set) var messages: [FlightMessage] = []
    public static var checkpointEvery: Int { 256 }

    /// Per node (by position in `nodeIDs`): its states, by the step they begin at.
    private var frames: [[(step: Int, frame: NodeFrame)]]
    private var logs: [LogHistory]
    /// The serials in flight after step `k * checkpointEvery`.
    private var flightCheckpoints: [[Int]] = []
    private let revision: ((Machine) -> Int64)?

    /// Replays `traces` (engines over `machine`) and indexes every step. `notes` — things the
    /// recording cannot show, such as partitions and a scenario's narration — are placed at the
    /// last step at or before their time. `revision` reads the store's revision from a machine.
    /// `progress` hears the number of steps indexed, now and then.
    public init(traces: [NodeTrace], machine: Machine.Type, inFlightLimit: Int = 1_000, notes: [TimelineNote] = [],
                revision: ((Machine) -> Int64)? = nil, progress: ((Int) -> Void)? = nil) {
        self.traces = traces.sorted { $0.node < $1.node }
        nodeIDs = self.traces.map(\.node)
        origin = traces.compactMap { $0.records.first?.time }.min() ?? 0
        frames = nodeIDs.map { _ in [(0, NodeFrame.notStarted)] }
        logs = nodeIDs.map { _ in LogHistory() }
        self.revision = revision
        build(inFlightLimit: inFlightLimit, progress: progress)
        place(notes)
    }

    /// The number of steps (moves).
    public var steps: Int { moves.count }

    // MARK: - Reading a step

    /// The cluster as it was after `step` (clamped to 0...steps), each node's log given by its
    /// last `tail` entries.
    public func state(at step: Int, tail: Int = 48) -> ClusterMoment {
        let step = max(0, min(step, moves.count))
        var nodes: [NodeMoment] = []
        for (position, id) in nodeIDs.enumerated() {
            let frame = self.frame(position, at: step)
            let log = frame.alive ? logs[position].tail(frame: frame, at: step, count: tail) : nil
            nodes.append(NodeMoment(id: id, frame: frame, log: log))
        }
        return ClusterMoment(step: step, time: step == 0 ? origin : moves[step - 1].time, nodes: nodes,
                             inFlight: inFlight(at: step).map { messages[$0] })
    }

    /// The state of node `id` after `step`.
    public func frame(of id: NodeID, at step: Int) -> NodeFrame? {
        guard let position = nodeIDs.firstIndex(of: id) else { return nil }
        return frame(position, at: max(0, min(step, moves.count)))
    }

    /// What step `step` (1...steps) was: the node that moved, its records, what it sent and
    /// received, and how its state changed.
    public func detail(of step: Int) -> StepDetail? {
        guard step >= 1 && step <= moves.count else { return nil }
        let move = moves[step - 1]
        let position = nodeIDs.firstIndex(of: move.node)!
        let records = move.records.map { traces[position].records[$0] }
        let before = frame(position, at: step - 1)
        let after = frame(position, at: step)
        let sent = move.sent.map { messages[$0] }
        let received = move.received.map { messages[$0] }
        var changes: [String] = []
        if before.alive != after.alive { changes.append(after.alive ? "started" : "stopped") }
        if after.alive {
            if before.role != after.role || before.term != after.term {
                changes.append("\(Self.roleName(before.role)) t\(before.term) → \(Self.roleName(after.role)) t\(after.term)")
            }
            if before.votedFor != after.votedFor, let vote = after.votedFor { changes.append("voted for node \(vote)") }
            let appended = logs[position].written(at: step)
            if !appended.isEmpty {
                let first = appended.first!.index, last = appended.last!.index
                changes.append(first == last ? "wrote entry \(first)@\(appended[0].term)" : "wrote entries \(first)…\(last)")
            }
            let cut = logs[position].cut(at: step)
            if let first = cut.first, let last = cut.last { changes.append(first == last ? "cut entry \(first)" : "cut entries \(first)…\(last)") }
            if before.commitIndex != after.commitIndex { changes.append("commit \(before.commitIndex) → \(after.commitIndex)") }
            if before.appliedIndex != after.appliedIndex { changes.append("applied \(before.appliedIndex) → \(after.appliedIndex)") }
            if before.snapshotIndex != after.snapshotIndex { changes.append("snapshot through \(after.snapshotIndex)") }
        }
        return StepDetail(step: step, node: move.node, time: move.time, records: records, received: received, sent: sent, changes: changes)
    }

    /// The last step whose move happened at or before `time` (0 when none did).
    public func step(atTime time: UInt64) -> Int {
        var low = 0, high = moves.count
        while low < high {
            let middle = (low + high) / 2
            if moves[middle].time <= time { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private func frame(_ position: Int, at step: Int) -> NodeFrame {
        let list = frames[position]
        var low = 0, high = list.count
        while low < high {
            let middle = (low + high) / 2
            if list[middle].step <= step { low = middle + 1 } else { high = middle }
        }
        return list[max(0, low - 1)].frame
    }

    /// Serials in flight after `step`, oldest first: the checkpoint before it, then the sends and
    /// receipts of the steps between.
    private func inFlight(at step: Int) -> [Int] {
        let checkpoint = min(step / Self.checkpointEvery, flightCheckpoints.count - 1)
        guard checkpoint >= 0 else { return [] }
        let base = checkpoint * Self.checkpointEvery
        let kept = { (serial: Int) in self.messages[serial].droppedStep.map { $0 > step } ?? true }
        guard step > base else { return flightCheckpoints[checkpoint].filter(kept) }
        var removed: Set<Int> = []
        var added: [Int] = []
        for move in moves[base..<step] {
            added.append(contentsOf: move.sent)
            removed.formUnion(move.received)
        }
        return (flightCheckpoints[checkpoint] + added).filter { !removed.contains($0) && kept($0) }
    }

    // MARK: - Building

    private func build(inFlightLimit: Int, progress: ((Int) -> Void)?) {
        let replayer = Replayer(traces: traces, machine: Machine.self, inFlightLimit: inFlightLimit)
        var mirror: [Int] = []  // the serials of `inFlight`, in its order
        var removed: [Int] = []
        replayer.checks.flightObserver = { [unowned self] change in
            let step = self.moves.count + 1
            switch change {
            case .sent(let envelopes):
                for envelope in envelopes {
                    mirror.append(self.messages.count)
                    self.messages.append(FlightMessage(serial: self.messages.count, envelope: envelope, sentStep: step))
                }
            case .received(let position):
                let serial = mirror.remove(at: position)
                self.messages[serial].endStep = step
                removed.append(serial)
            case .evicted(let count):
                for serial in mirror.prefix(count) {
                    self.messages[serial].endStep = step
                    self.messages[serial].evicted = true
                    removed.append(serial)
                }
                mirror.removeFirst(count)
            }
        }
        flightCheckpoints.append([])
        var writes = WriteRun()
        while true {
            let before = replayer.nodes.map { $0.tape.cursor }
            let firstSerial = messages.count
            removed.removeAll(keepingCapacity: true)
            let going = replayer.step()
            guard let position = replayer.nodes.indices.first(where: { replayer.nodes[$0].tape.cursor != before[$0] }) else { break }
            let node = nodeIDs[position]
            let range = before[position]..<replayer.nodes[position].tape.cursor
            let step = moves.count + 1
            moves.append(Move(node: node, records: range, time: traces[position].records[range.lowerBound].time,
                              sent: firstSerial..<messages.count, received: removed))
            let previous = frames[position].last!.frame
            let frame = capture(replayer, position: position, previous: previous, records: range)
            frames[position].append((step, frame))
            if let core = replayer.core(node) { logs[position].update(to: core.log, at: step) }
            noteEvents(position: position, step: step, records: range, before: previous, after: frame, writes: &writes)
            if step % Self.checkpointEvery == 0 {
                flightCheckpoints.append(mirror)
                progress?(step)
            }
            if !going { break }
        }
        if replayer.checks.checker == nil && replayer.checks.summary.uncheckedReason == nil && replayer.checks.problem == nil {
            _ = replayer.run()  // nothing left: fills in why the checks could not run
        }
        summary = replayer.summary
        if let problem = summary.problem {
            events.append(TimelineEvent(step: moves.count, time: moves.last?.time ?? origin, kind: "problem", node: problem.node,
                                        text: "the replay stopped: \(problem)"))
        }
    }

    private func capture(_ replayer: Replayer<Machine>, position: Int, previous: NodeFrame, records: Range<Int>) -> NodeFrame {
        let id = nodeIDs[position]
        guard let core = replayer.core(id) else {
            var frame = previous
            frame.alive = false
            for index in records.reversed() {
                if case .stop(let reason, _) = traces[position].records[index].event {
                    frame.stopReason = reason
                    break
                }
            }
            return frame
        }
        let machine = replayer.machine(id)
        var frame = NodeFrame(alive: true, started: true, role: core.roleKind, term: core.term, votedFor: core.votedFor,
                              leaderID: core.leaderID, commitIndex: core.commitIndex,
                              appliedIndex: machine?.appliedIndex ?? core.appliedIndex, lastIndex: core.log.lastIndex,
                              snapshotIndex: core.log.snapshotIndex, snapshotTerm: core.log.snapshotTerm,
                              electionElapsed: core.electionElapsed, electionTimeout: core.electionTimeout,
                              configuration: core.configuration, configurationIndex: core.configurationIndex,
                              configurationCommitted: !core.configurationChangePending,
                              replication: core.isLeader ? core.replicationStatus : [], transferee: core.transferee,
                              keys: machine?.itemCount ?? 0, revision: machine.flatMap { revision?($0) })
        if previous.configuration == frame.configuration { frame.configuration = previous.configuration }  // share storage
        return frame
    }

    /// The timeline's marks for a move: starts and stops, elections and leaders, snapshots,
    /// membership changes and client writes (a run of writes at one leader is one mark).
    private func noteEvents(position: Int, step: Int, records: Range<Int>, before: NodeFrame, after: NodeFrame, writes: inout WriteRun) {
        let node = nodeIDs[position]
        let time = moves[step - 1].time
        func add(_ kind: String, _ text: String) {
            events.append(TimelineEvent(step: step, time: time, kind: kind, node: node, text: text))
        }
        var compacted = false
        for index in records {
            switch traces[position].records[index].event {
            case .start(let core, _):
                add(before.started ? "restart" : "start", "node \(node) \(before.started ? "restarted" : "started"): term \(core.term), log through \(core.log.lastIndex), commit \(core.commitIndex)")
            case .stop(let reason, let failed):
                add("stop", "node \(node) stopped\(failed ? " (a write failed)" : ""): \(reason)")
            case .input(.propose(let commands, .accepted(let index, let term))):
                let last = index + commands.count - 1
                if let run = writes.run, run.node == node, run.term == term, step - run.lastStep <= 200, run.event == events.count - 1 {
                    writes.run!.count += commands.count
                    writes.run!.lastIndex = last
                    writes.run!.lastStep = step
                    let count = writes.run!.count
                    events[run.event].text = "node \(node) appended \(count) client writes (entries \(run.firstIndex)…\(last), term \(term))"
                } else {
                    writes.run = WriteRun.Run(node: node, term: term, firstIndex: index, lastIndex: last, count: commands.count,
                                              lastStep: step, event: events.count)
                    add("write", commands.count == 1 ? "node \(node) appended a client write (entry \(index), term \(term))"
                                                     : "node \(node) appended \(commands.count) client writes (entries \(index)…\(last), term \(term))")
                }
            case .input(.changeConfiguration(let change, let result)):
                add("membership", "node \(node) asked to change the membership: \(change) → \(result)")
            case .input(.transferLeadership(let target, let result)):
                add("leader", "node \(node) asked to hand leadership to node \(target) → \(result)")
            case .input(.compact(let snapshot)):
                compacted = true
                add("snapshot", "node \(node) took a snapshot through entry \(snapshot.index)")
            default:
                break
            }
        }
        guard after.alive && before.alive else { return }
        if before.role != after.role || before.term != after.term {
            switch after.role {
            case .leader: add("leader", "node \(node) leads term \(after.term)")
            case .candidate: add("election", "node \(node) campaigns in term \(after.term)")
            case .preCandidate: add("prevote", "node \(node) asks for pre-votes for term \(after.term + 1)")
            case .follower:
                if before.role == .leader { add("leader", "node \(node) stepped down (term \(after.term))") }
            }
        }
        if !compacted && after.snapshotIndex > before.snapshotIndex {
            add("snapshot", "node \(node) installed a snapshot through entry \(after.snapshotIndex)")
        }
        if after.configuration != before.configuration, before.configuration != .empty || after.configuration.voters.count > 0 {
            if after.configuration != announcedConfiguration {
                announcedConfiguration = after.configuration
                if before.configuration != .empty {
                    add("membership", "node \(node) now uses the configuration \(after.configuration)")
                }
            }
        }
    }

    private var announcedConfiguration = ClusterConfiguration.empty

    private func place(_ notes: [TimelineNote]) {
        guard !notes.isEmpty else { return }
        for note in notes {
            if let envelope = note.dropped {
                // Dropped between two moves: it is gone from the next step on.
                markDropped(envelope, at: min(moves.count, step(atTime: note.time) + 1))
                continue
            }
            events.append(TimelineEvent(step: step(atTime: note.time), time: note.time, kind: note.kind, node: note.node, text: note.text))
        }
        events = events.enumerated().sorted { a, b in
            (a.element.step, a.element.time, a.offset) < (b.element.step, b.element.time, b.offset)
        }.map(\.element)
    }

    /// The message a note says was dropped by hand: the latest copy sent by `step` and still in
    /// flight there.
    private func markDropped(_ envelope: Envelope, at step: Int) {
        for serial in messages.indices.reversed() where messages[serial].sentStep <= step {
            let message = messages[serial]
            guard message.droppedStep == nil, message.endStep.map({ $0 > step }) ?? true, message.envelope == envelope else { continue }
            messages[serial].droppedStep = step
            return
        }
    }

    public static func roleName(_ kind: RoleKind) -> String {
        switch kind {
        case .follower: return "follower"
        case .preCandidate: return "precandidate"
        case .candidate: return "candidate"
        case .leader: return "leader"
        }
    }
}

/// A run of client writes at one leader, merged into one timeline mark.
private struct WriteRun {
    struct Run {
        var node: NodeID
        var term: Term
        var firstIndex: LogIndex
        var lastIndex: LogIndex
        var count: Int
        var lastStep: Int
        var event: Int
    }
    var run: Run?
}
