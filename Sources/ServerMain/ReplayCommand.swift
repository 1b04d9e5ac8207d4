import FlightRecording
import JSONText
import ClientShell
import KVClient
import RaftCore
import RaftReplay
import NodeHosting
import RuntimeSupport

/// `ServerMain --replay DIR...`: re-runs every node's engine (the production `NodeEngine`, over
/// the key-value state machine) from its trace file, checks that the re-run matches the
/// recording step for step — every call into the core, the order of writes and sends, the
/// snapshot bytes — and that the safety properties hold, and prints the cluster as `status`
/// shows it — at the end, at the step asked for, or where it went wrong.
/// Exit status: 0 when the replay matched (or stopped where asked), 1 when it found a problem,
/// 2 when the trace files cannot be used.
enum ReplayCommand {
    static func run(directories: [String], until: Int?, listSteps: Bool, context: Int) -> Int32 {
        let traces: [NodeTrace]
        do {
            traces = try TraceFile.readAll(directories: directories)
        } catch {
            FileHandleStderr.write("ServerMain: \(error)\n")
            return 2
        }
        guard !traces.isEmpty else {
            FileHandleStderr.write("ServerMain: no trace files (traceN.jsonl) in \(directories.joined(separator: ", ")); write them with {\"admin\":\"trace\"} (ClientMain: trace) or run the server with --record\n")
            return 2
        }
        let origin = traces.compactMap { $0.records.first?.time }.min() ?? 0
        func clock(_ time: UInt64) -> String { "t+" + seconds(time &- origin) }
        print("replaying \(traces.count) node\(traces.count == 1 ? "" : "s"):")
        for trace in traces {
            let span = (trace.records.last?.time ?? 0) &- (trace.records.first?.time ?? 0)
            let first = trace.records.first.map { $0.seq } ?? 0
            print("  node \(trace.node): \(trace.path), \(grouped(trace.records.count)) records from #\(first), \(seconds(span)) s")
        }

        let replayer = Replayer(traces: traces)
        var recent: [ReplayStep] = []
        let summary = replayer.run(until: until) { step in
            if listSteps {
                print("\(pad(String(step.step), 7)) \(pad(clock(step.time), 11)) node \(step.node) #\(step.seq)  \(step.text)")
            } else {
                recent.append(step)
                if recent.count > context * 2 { recent.removeFirst(recent.count - context) }
            }
        }
        if !listSteps && (summary.problem != nil || !summary.finished) {
            let shown = recent.suffix(context)
            if !shown.isEmpty { print("\nthe last \(shown.count) steps:") }
            for step in shown {
                print("\(pad(String(step.step), 7)) \(pad(clock(step.time), 11)) node \(step.node) #\(step.seq)  \(step.text)")
            }
        }
        print("")
        print("replayed \(grouped(summary.steps)) steps up to \(clock(replayer.now)): \(grouped(summary.readies)) Readies matched their recorded digests, \(summary.checkpointsMatched) recorded state\(summary.checkpointsMatched == 1 ? "" : "s") matched field for field, \(summary.restarts) (re)start\(summary.restarts == 1 ? "" : "s")")
        if let from = summary.checkedFromStep {
            print("safety checks ran from step \(grouped(from)) (election safety, log matching, leader completeness, state machine safety, persist-before-send, commits backed by durable majorities)" + (summary.trustedThrough > 0 ? "; entries through \(summary.trustedThrough), committed before the recording began, were taken on trust" : ""))
        } else if let reason = summary.uncheckedReason {
            print("safety checks did not run: \(reason)")
        }
        print("")
        print(Renderers.statusTable(status(of: replayer), color: false))
        if let problem = summary.problem {
            print("\nPROBLEM: \(problem)")
            return 1
        }
        if summary.finished {
            print("\nthe replay matched the recording exactly, and no safety property broke")
        } else {
            let inFlush = until.map { summary.steps > $0 } ?? false
            let flush = inFlush ? " (step \(grouped(until!)) is inside a flush, which an engine runs to its end)" : ""
            print("\nstopped at step \(grouped(summary.steps))\(flush) as asked (--until); no problem up to here")
        }
        return 0
    }

    /// The replayed cluster in the shape of the `status` answer, for the same table.
    static func status<Machine>(of replayer: Replayer<Machine>) -> JSONObject {
        var leader: (id: NodeID, term: Term)?
        var nodes: [JSONValue] = []
        var configuration: ClusterConfiguration?
        var configurationTerm = -1
        for id in replayer.nodeIDs {
            guard let core = replayer.core(id) else {
                nodes.append(.object(JSONObject([("id", .number(String(id))), ("alive", .bool(false))])))
                continue
            }
            if core.isLeader, core.term > (leader?.term ?? -1) { leader = (id, core.term) }
            if core.term > configurationTerm {
                configurationTerm = core.term
                configuration = core.configuration
            }
            let applied = replayer.machine(id)?.appliedIndex ?? core.appliedIndex  // what the engine's machine holds
            var members: [(String, JSONValue)] = [
                ("id", .number(String(id))), ("role", .string(roleName(core.roleKind))), ("term", .number(String(core.term))),
                ("votedFor", core.votedFor.map { .number(String($0)) } ?? .null),
                ("commitIndex", .number(String(core.commitIndex))), ("lastApplied", .number(String(applied))),
                ("logLength", .number(String(core.log.lastIndex))), ("alive", .bool(true)),
                ("voter", .bool(core.configuration.isVoter(id))), ("member", .bool(core.configuration.contains(id))),
            ]
            if let since = replayer.sinceLeaderContact(id) { members.append(("msSinceLeaderContact", .number(String(since / 1_000_000)))) }
            nodes.append(.object(JSONObject(members)))
        }
        var result: [(String, JSONValue)] = [("leader", leader.map { .number(String($0.id)) } ?? .null), ("nodes", .array(nodes))]
        if let configuration {
            result.append(("configuration", .object(JSONObject([
                ("voters", .array(configuration.voters.map { .number(String($0)) })),
                ("learners", .array(configuration.learners.map { .number(String($0)) })),
            ]))))
        }
        return JSONObject(result)
    }

    static func roleName(_ kind: RoleKind) -> String {
        switch kind {
        case .follower: return "follower"
        case .preCandidate: return "precandidate"
        case .candidate: return "candidate"
        case .leader: return "leader"
        }
    }

    static func seconds(_ nanos: UInt64) -> String {
        let millis = nanos / 1_000_000
        let fraction = String(millis % 1000)
        return "\(millis / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }

    static func grouped(_ value: Int) -> String {
        var digits = String(value)
        var out = ""
        while digits.count > 3 {
            out = "," + digits.suffix(3) + out
            digits = String(digits.dropLast(3))
        }
        return digits + out
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }
}
