import JSONText
import KVClient

/// Admin answers for people: a status table (coloured on a terminal, plain otherwise), a
/// cluster summary, log sizes, log entries and metrics.
extension Renderers {
    /// The status table. `color` adds ANSI colours to roles and states.
    public static func statusTable(_ status: JSONObject, color enabled: Bool) -> String {
        let nodes = status["nodes"]?.arrayValue?.compactMap(\.objectValue) ?? []
        let leader = status["leader"]?.intValue
        var lines = ["node  role          term  voted  log     commit  applied  state          heard from leader"]
        for node in nodes {
            let id = node["id"]?.intValue ?? -1
            let alive = node["alive"]?.boolValue ?? false
            var role = alive ? (node["role"]?.stringValue ?? "?") : "down"
            if alive && node["member"]?.boolValue == false {
                role = "not member"  // removed, or waiting to be added
            } else if alive && role == "follower" && node["voter"]?.boolValue == false {
                role = "learner"
            }
            let roleText = role == "leader" ? "LEADER" : role
            let roleColor: String
            switch role {
            case "leader": roleColor = "1;32"
            case "candidate", "precandidate": roleColor = "33"
            case "down": roleColor = "31"
            case "learner", "not member": roleColor = "34"
            default: roleColor = "36"
            }
            var state = alive ? "up" : "down"
            if let failure = node["failure"]?.stringValue {
                state = failure == "not heard from" ? "unreachable" : "failed"
            }
            if alive && node["partitioned"]?.boolValue == true { state = "partitioned" }
            if let slow = node["slowMs"]?.intValue, slow > 0, alive { state += " +\(slow)ms" }
            if let disk = node["disk"]?.stringValue { state += disk == "full" ? " disk full" : " disk slow" }
            let stateColor = state == "up" ? "32" : (state.hasPrefix("partitioned") ? "35" : "31")
            let heard: String
            if !alive {
                heard = "-"
            } else if role == "leader" {
                heard = "is the leader"
            } else if let ms = node["msSinceLeaderContact"]?.intValue {
                heard = ms < 1000 ? "\(ms) ms ago" : "\(ms / 1000).\(ms % 1000 / 100) s ago"
            } else {
                heard = "never"
            }
            let marker = id == leader ? "*" : " "
            let row = [
                pad("\(marker)\(id)", 4, right: true), "  ",
                color(pad(roleText, 12), roleColor, enabled), "  ",
                pad(alive ? int(node["term"]) : "-", 4, right: true), "  ",
                pad(alive ? (node["votedFor"]?.intValue.map(String.init) ?? "-") : "-", 5, right: true), "  ",
                pad(alive ? int(node["logLength"]) : "-", 6, right: true), "  ",
                pad(alive ? int(node["commitIndex"]) : "-", 6, right: true), "  ",
                pad(alive ? int(node["lastApplied"]) : "-", 7, right: true), "  ",
                color(pad(state, 13), stateColor, enabled), "  ",
                heard,
            ].joined()
            lines.append(row)
        }
        let term = nodes.compactMap { $0["alive"]?.boolValue == true ? $0["term"]?.intValue : nil }.max()
        if let leader {
            lines.append("leader: node \(leader), term \(int(nodes.first { $0["id"]?.intValue == leader }?["term"]))")
        } else {
            lines.append("no leader" + (term.map { " (highest term \($0))" } ?? ""))
        }
        if let configuration = status["configuration"]?.objectValue {
            func ids(_ key: String) -> String {
                (configuration[key]?.arrayValue ?? []).compactMap(\.intValue).map(String.init).joined(separator: ",")
            }
            let learners = ids("learners")
            let pending = configuration["committed"]?.boolValue == false ? " (change not yet committed)" : ""
            lines.append("voters: \(ids("voters"))" + (learners.isEmpty ? "" : "   learners: \(learners)") + pending)
        }
        if status["paused"]?.boolValue == true {
            let held = status["heldMessages"]?.intValue ?? 0
            lines.append(color("PAUSED", "1;33", enabled) + ": timers stopped, \(held) message\(held == 1 ? "" : "s") held (messages, deliver, drop, tick, resume)")
        }
        return lines.joined(separator: "\n")
    }

    public static func clusterSummary(_ status: JSONObject) -> String {
        let nodes = status["nodes"]?.arrayValue?.compactMap(\.objectValue) ?? []
        let up = nodes.filter { $0["alive"]?.boolValue == true }.compactMap { $0["id"]?.intValue }
        let down = nodes.filter { $0["alive"]?.boolValue != true }.compactMap { $0["id"]?.intValue }
        let cut = nodes.filter { $0["partitioned"]?.boolValue == true }.compactMap { $0["id"]?.intValue }
        func list(_ ids: [Int]) -> String { ids.isEmpty ? "none" : ids.map(String.init).joined(separator: ", ") }
        let leaderText: String
        if let leader = status["leader"]?.intValue {
            leaderText = "leader: node \(leader) in term \(int(nodes.first { $0["id"]?.intValue == leader }?["term"]))"
        } else {
            leaderText = "no leader"
        }
        return "\(nodes.count) nodes; \(leaderText); up: \(list(up)); down: \(list(down)); partitioned: \(list(cut))"
    }

    public static func logSizes(_ status: JSONObject) -> String {
        var lines = ["node  last index  snapshot through  entries in log"]
        for node in status["nodes"]?.arrayValue?.compactMap(\.objectValue) ?? [] {
            let alive = node["alive"]?.boolValue ?? false
            lines.append([pad(int(node["id"]), 4, right: true), "  ",
                          pad(alive ? int(node["logLength"]) : "down", 10, right: true), "  ",
                          pad(alive ? int(node["snapshotIndex"]) : "-", 16, right: true), "  ",
                          pad(alive ? int(node["entriesInLog"]) : "-", 14, right: true)].joined())
        }
        return lines.joined(separator: "\n")
    }

    public static func logEntries(_ answer: JSONObject) -> String {
        let entries = answer["entries"]?.arrayValue?.compactMap(\.objectValue) ?? []
        var lines = ["node \(int(answer["node"])): last \(entries.count) entr\(entries.count == 1 ? "y" : "ies")"]
        for entry in entries {
            let command: String
            if let object = entry["command"]?.objectValue {
                let op = object["op"]?.stringValue ?? "?"
                let key = object["key"]?.stringValue ?? ""
                switch op {
                case "put": command = "put \(key) = \(object["value"]?.stringValue ?? "")"
                case "cas": command = "cas \(key): \(object["expect"]?.stringValue ?? "null") -> \(object["value"]?.stringValue ?? "")"
                default: command = "\(op) \(key)"
                }
            } else {
                command = "(no-op of a new leader)"
            }
            lines.append("  \(pad(int(entry["index"]), 6, right: true))  term \(pad(int(entry["term"]), 3))  \(command)")
        }
        return lines.joined(separator: "\n")
    }

    public static func metrics(_ answer: JSONObject) -> String {
        var lines = ["leader \(answer["leader"]?.intValue.map(String.init) ?? "none"), term \(int(answer["term"])), open connections \(int(answer["openConnections"]))",
                     "node  elections won  proposals  committed  appends sent/refused  fsyncs  fsync p50/p99 us"]
        for node in answer["nodes"]?.arrayValue?.compactMap(\.objectValue) ?? [] {
            let fsync = node["fsyncLatencyUs"]?.objectValue
            lines.append([pad(int(node["id"]), 4, right: true), "  ",
                          pad("\(int(node["electionsStarted"]))/\(int(node["electionsWon"]))", 13, right: true), "  ",
                          pad(int(node["proposals"]), 9, right: true), "  ",
                          pad(int(node["entriesCommitted"]), 9, right: true), "  ",
                          pad("\(int(node["appendsSent"]))/\(int(node["appendsRejected"]))", 20, right: true), "  ",
                          pad(int(node["fsyncs"]), 6, right: true), "  ",
                          pad("\(int(fsync?["p50"]))/\(int(fsync?["p99"]))", 16, right: true)].joined())
        }
        let requests = answer["requests"]?.arrayValue?.compactMap(\.objectValue) ?? []
        if !requests.isEmpty {
            lines.append("requests: " + requests.map { "\($0["op"]?.stringValue ?? "?") \($0["outcome"]?.stringValue ?? "?") \(int($0["count"]))" }
                .joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    /// `members`: one line per member.
    public static func members(_ answer: JSONObject) -> String {
        let members = answer["members"]?.arrayValue?.compactMap(\.objectValue) ?? []
        var lines = ["node  kind      raft                   client                 http"]
        for member in members {
            let kind = member["voter"]?.boolValue == true ? "voter" : (member["promoting"]?.boolValue == true ? "learner*" : "learner")
            lines.append([pad(int(member["id"]), 4, right: true), "  ", pad(kind, 8), "  ",
                          pad(member["raft"]?.stringValue ?? "-", 21), "  ", pad(member["client"]?.stringValue ?? "-", 21), "  ",
                          member["http"]?.stringValue ?? "-"].joined())
        }
        if members.contains(where: { $0["promoting"]?.boolValue == true }) {
            lines.append("* becomes a voter once it has caught up with the leader")
        }
        return lines.joined(separator: "\n")
    }

    /// `trace`: the files written, and how to replay them.
    public static func traces(_ answer: JSONObject) -> String {
        let traces = answer["traces"]?.arrayValue?.compactMap(\.objectValue) ?? []
        var lines: [String] = []
        var directories: [String] = []
        for trace in traces {
            let file = trace["file"]?.stringValue ?? "?"
            let directory = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            if !directories.contains(directory) { directories.append(directory) }
            var line = "node \(int(trace["node"])): \(file), \(int(trace["records"])) records"
            if let seconds = trace["seconds"]?.numberText { line += ", the last \(seconds) s" }
            if trace["mode"]?.stringValue == "continuous" { line += " (recording continuously)" }
            lines.append(line)
        }
        for problem in answer["problems"]?.arrayValue?.compactMap(\.stringValue) ?? [] { lines.append("not written: \(problem)") }
        if !directories.isEmpty {
            let arguments = directories.map { "--replay " + ($0.isEmpty ? "." : $0) }.joined(separator: " ")
            lines.append("replay with: ServerMain \(arguments)   (add --until STEP to stop at a step, --steps to list them)")
        }
        return lines.joined(separator: "\n")
    }

    /// `messages`: the held messages, oldest first.
    public static func heldMessages(_ answer: JSONObject) -> String {
        let messages = answer["messages"]?.arrayValue?.compactMap(\.objectValue) ?? []
        if messages.isEmpty {
            return answer["paused"]?.boolValue == true ? "no message is held" : "not paused (pause holds every message)"
        }
        var lines = ["  id  from  to  term  message"]
        for message in messages {
            lines.append([pad(int(message["id"]), 4, right: true), "  ", pad(int(message["from"]), 4, right: true), "  ",
                          pad(int(message["to"]), 2, right: true), "  ", pad(int(message["term"]), 4, right: true), "  ",
                          message["summary"]?.stringValue ?? message["type"]?.stringValue ?? "?"].joined())
        }
        return lines.joined(separator: "\n")
    }
}
