import ClusterTransport
import FlightRecording
import JSONText
import KVStore
import KVWire
import RaftCore
import RaftReplay

/// A recording indexed for time travel, as the page and `/v1/replay` see it: the timeline (steps
/// and marks) and, at any step, the cluster in the shape of the live `status` answer — so the
/// page draws a replayed step with the code that draws the live cluster.
public final class ReplayView: Sendable {
    public let travel: TimeTravel<KVStateMachine>
    /// Where the recording came from (shown on the page), and the step the page opens at.
    public let source: String
    public let startStep: Int?

    public init(travel: TimeTravel<KVStateMachine>, source: String, startStep: Int? = nil) {
        self.travel = travel
        self.source = source
        self.startStep = startStep
    }

    /// Reads every `traceN.jsonl` in `directories` (and `timeline.jsonl` notes beside them),
    /// replays and indexes them. `trimAfter`: each node's recording begins at its first
    /// (re)start at or after this time, when it has one.
    public static func load(directories: [String], extraNotes: [TimelineNote] = [], trimAfter: UInt64? = nil,
                            recordBudget: Int? = nil, startStep: ((TimeTravel<KVStateMachine>) -> Int?)? = nil,
                            progress: ((Int) -> Void)? = nil) throws -> ReplayView {
        var traces = try TraceFile.readAll(directories: directories)
        guard !traces.isEmpty else {
            throw ReplayLoadError(description: "no trace files (traceN.jsonl) in \(directories.joined(separator: ", ")); write them with {\"admin\":\"trace\"} (ClientMain: trace), the page's Record button, or run the server with --record")
        }
        if let trimAfter { traces = traces.map { trimmed($0, after: trimAfter) } }
        if let recordBudget, traces.reduce(0, { $0 + $1.records.count }) > recordBudget {
            traces = traces.map { trimmed($0, keeping: recordBudget / traces.count) }
        }
        var notes = extraNotes
        for directory in directories { notes.append(contentsOf: TimelineNotesFile.read(directory: directory)) }
        let origin = traces.compactMap { $0.records.first?.time }.min() ?? 0
        notes = Array(Set(notes.map(NoteKey.init))).map(\.note).filter { $0.time >= origin }.sorted { $0.time < $1.time }
        let travel = TimeTravel(traces: traces, notes: notes, progress: progress)
        return ReplayView(travel: travel, source: directories.joined(separator: " "), startStep: startStep?(travel))
    }

    /// The recording from the node's first start at or after `time` (unchanged when it has none).
    static func trimmed(_ trace: NodeTrace, after time: UInt64) -> NodeTrace {
        guard let first = trace.records.firstIndex(where: { record in
            if case .start = record.event { return record.time >= time }
            return false
        }) else { return trace }
        var copy = trace
        copy.records = Array(trace.records[first...])
        return copy
    }

    /// The recording from the last state (start or checkpoint) that leaves at least `count`
    /// records after it (unchanged when it is shorter, or has no such state).
    static func trimmed(_ trace: NodeTrace, keeping count: Int) -> NodeTrace {
        guard trace.records.count > count else { return trace }
        let limit = trace.records.count - count
        guard let first = trace.records[...limit].lastIndex(where: { record in
            switch record.event {
            case .start, .checkpoint: return true
            case .input, .stop: return false
            }
        }), first > 0 else { return trace }
        var copy = trace
        copy.records = Array(trace.records[first...])
        return copy
    }

    // MARK: - JSON

    /// `{"status":"ok","steps":N,"events":[{"step","time","text","kind","node"}...],...}`.
    public func timelineJSON() -> String {
        var members: [(String, JSONValue)] = [("steps", .int(travel.steps))]
        members.append(("events", .array(travel.events.map(eventJSON))))
        members.append(("nodes", .array(travel.nodeIDs.map(JSONValue.int))))
        members.append(("source", .string(source)))
        members.append(("duration", seconds(travel.moves.last.map { $0.time &- travel.origin } ?? 0)))
        if let startStep { members.append(("start", .int(startStep))) }
        let summary = travel.summary
        var checks: [(String, JSONValue)] = [("finished", .bool(summary.finished)), ("readies", .int(summary.readies)),
                                             ("checkpointsMatched", .int(summary.checkpointsMatched))]
        if let from = summary.checkedFromStep { checks.append(("checkedFromRecord", .int(from))) }
        if let reason = summary.uncheckedReason { checks.append(("unchecked", .string(reason))) }
        members.append(("checks", .object(JSONObject(checks))))
        if let problem = summary.problem { members.append(("problem", .string(problem.description))) }
        return ClientResponse.adminOK(members, id: nil)
    }

    func eventJSON(_ event: TimelineEvent) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [("step", .int(event.step)), ("time", seconds(event.time &- travel.origin)),
                                                          ("text", .string(event.text)), ("kind", .string(event.kind))]
        if let node = event.node { members.append(("node", .int(node))) }
        return .object(JSONObject(members))
    }

    /// The status object after `step`: `leader`, `nodes` (the live status's fields), each node's
    /// log tail (`logs`, as the live feed sends it), the messages in flight and the step's detail.
    public func stateJSON(step requested: Int, tail: Int = 48) -> String {
        let moment = travel.state(at: requested, tail: tail)
        return ClientResponse.adminOK(stateMembers(moment), id: nil)
    }

    public func stateMembers(_ moment: ClusterMoment) -> [(String, JSONValue)] {
        let step = moment.step
        var configuration: ClusterConfiguration?
        var configurationFrame: NodeFrame?
        for node in moment.nodes where node.frame.alive && node.frame.term > (configurationFrame?.term ?? -1) {
            configurationFrame = node.frame
            configuration = node.frame.configuration
        }
        let nodes: [JSONValue] = moment.nodes.map { node in
            let frame = node.frame
            let role = TimeTravel<KVStateMachine>.roleName(frame.role)
            var members: [(key: String, value: JSONValue)] = [
                ("id", .int(node.id)), ("role", .string(role)), ("term", .int(frame.term)),
                ("votedFor", frame.votedFor.map(JSONValue.int) ?? .null),
                ("commitIndex", .int(frame.commitIndex)), ("lastApplied", .int(frame.appliedIndex)),
                ("logLength", .int(frame.lastIndex)), ("alive", .bool(frame.alive)),
                ("snapshotIndex", .int(frame.snapshotIndex)), ("entriesInLog", .int(frame.entriesInLog)),
                ("leaderId", frame.leaderID.map(JSONValue.int) ?? .null),
                ("voter", .bool(configuration?.isVoter(node.id) ?? frame.configuration.isVoter(node.id))),
                ("member", .bool(configuration?.contains(node.id) ?? frame.configuration.contains(node.id))),
                ("partitioned", .bool(false)), ("slowMs", .int(0)), ("local", .bool(true)),
            ]
            if frame.alive {
                if let revision = frame.revision { members.append(("revision", .number(String(revision)))) }
                members.append(("keys", .int(frame.keys)))
                members.append(("electionElapsed", .int(frame.electionElapsed)))
                members.append(("electionTimeout", .int(frame.electionTimeout)))
            } else if let reason = frame.stopReason {
                members.append(("failure", .string(reason)))
            }
            if let transferee = frame.transferee { members.append(("transferringTo", .int(transferee))) }
            if !frame.replication.isEmpty {
                members.append(("replication", .array(frame.replication.map { peer in
                    .object(JSONObject([("id", .int(peer.id)), ("match", .int(peer.match)), ("next", .int(peer.next)),
                                        ("state", .string(peer.state))]))
                })))
            }
            return .object(JSONObject(members))
        }
        var result: [(String, JSONValue)] = [("leader", moment.leader.map(JSONValue.int) ?? .null), ("nodes", .array(nodes))]
        if let configuration, let frame = configurationFrame {
            result.append(("configuration", .object(JSONObject([
                ("voters", .array(configuration.voters.map(JSONValue.int))),
                ("learners", .array(configuration.learners.map(JSONValue.int))),
                ("index", .int(frame.configurationIndex)), ("committed", .bool(frame.configurationCommitted)),
            ]))))
        }
        result.append(("mode", .string("replay")))
        result.append(("step", .int(step)))
        result.append(("steps", .int(travel.steps)))
        result.append(("time", seconds(moment.time &- travel.origin)))
        result.append(("logs", .object(JSONObject(moment.nodes.map { node in
            (String(node.id), node.log.map(Self.tailJSON) ?? .null)
        }))))
        result.append(("inFlight", .array(moment.inFlight.map(Self.messageJSON))))
        if let detail = travel.detail(of: step) { result.append(("detail", detailJSON(detail))) }
        return result
    }

    static func tailJSON(_ tail: LogTail) -> JSONValue {
        let kinds = String(tail.entries.map { $0.isConfiguration ? "c" : ($0.data.isEmpty ? "n" : "w") })
        return .object(JSONObject([
            ("first", .int(tail.first)), ("terms", .array(tail.entries.map { .int($0.term) })), ("kinds", .string(kinds)),
            ("snapshot", .int(tail.snapshotIndex)), ("snapshotTerm", .int(tail.snapshotTerm)),
            ("commit", .int(tail.commitIndex)), ("last", .int(tail.last)),
            ("commands", .array(tail.entries.map { .string(commandText($0)) })),
        ]))
    }

    /// An entry's command in brief, for tooltips.
    static func commandText(_ entry: Entry) -> String {
        if let configuration = entry.configuration { return "configuration \(configuration)" }
        if entry.data.isEmpty { return "no-op" }
        if entry.data.utf8.count <= 120 { return entry.data }
        return String(entry.data.prefix(100)) + "… (\(entry.data.utf8.count) bytes)"
    }

    static func messageJSON(_ message: FlightMessage) -> JSONValue {
        let envelope = message.envelope
        var fields: [(key: String, value: JSONValue)] = [
            ("id", .int(message.serial)), ("from", .int(envelope.from)), ("to", .int(envelope.to)),
            ("type", .string(MessageKind.of(envelope.message).rawValue)), ("term", .int(envelope.term)),
        ]
        fields.append(contentsOf: MessageKind.details(envelope.message))
        fields.append(("summary", .string(envelope.description)))
        fields.append(("sentStep", .int(message.sentStep)))
        if let end = message.endStep { fields.append((message.evicted ? "lostStep" : "receivedStep", .int(end))) }
        if let dropped = message.droppedStep { fields.append(("droppedStep", .int(dropped))) }
        return .object(JSONObject(fields))
    }

    func detailJSON(_ detail: StepDetail) -> JSONValue {
        let records = detail.records.map { JSONValue.string(Self.recordText($0)) }
        return .object(JSONObject([
            ("step", .int(detail.step)), ("node", .int(detail.node)), ("time", seconds(detail.time &- travel.origin)),
            ("input", records.first ?? .null), ("records", .array(records)),
            ("received", .array(detail.received.map(Self.messageJSON))), ("sent", .array(detail.sent.map(Self.messageJSON))),
            ("changes", .array(detail.changes.map(JSONValue.string))),
        ]))
    }

    /// A record in words, without its bulk (a restart's whole core, a snapshot's bytes).
    static func recordText(_ record: TraceRecord) -> String {
        let text = record.description
        return text.utf8.count <= 300 ? text : String(text.prefix(280)) + "…"
    }

    private func seconds(_ nanos: UInt64) -> JSONValue {
        .number(String(Double((nanos > 1 << 62 ? 0 : nanos) / 1_000_000) / 1000))
    }
}

/// Notes compared by content (a note saved beside the traces and kept in memory counts once).
private struct NoteKey: Hashable {
    let note: TimelineNote
    func hash(into hasher: inout Hasher) {
        hasher.combine(note.time)
        hasher.combine(note.text)
    }
    static func == (a: NoteKey, b: NoteKey) -> Bool { a.note == b.note }
}

/// Why a recording cannot be loaded for time travel.
public struct ReplayLoadError: Error, CustomStringConvertible {
    public var description: String

    package init(description: String) {
        self.description = description
    }
}
