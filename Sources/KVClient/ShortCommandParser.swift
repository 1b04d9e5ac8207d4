import JSONText

/// How the client shows the answer to a request.
public enum ResponseDisplay: Equatable, Sendable {
    /// Print the response line exactly as received.
    case raw
    /// The cluster table (`status`), a one-paragraph summary (`cluster`), per-node log sizes
    /// (`logsize`), log entries (`logs`), metrics (`metrics`), the members (`members`), or the
    /// messages held while paused (`messages`).
    case statusTable, clusterSummary, logSizes, logEntries, metrics, members, heldMessages, traces
}

/// What one line typed at the client means.
public enum ClientCommand: Equatable, Sendable {
    /// Send this JSON line, show the answer as `display`.
    case send(String, display: ResponseDisplay)
    /// Refresh the status table every half second, for `seconds` (nil: until Enter or Ctrl-C).
    case watch(seconds: Double?)
    /// Snapshot every node (or one): one request per node.
    case snapshot(node: Int?)
    /// Run a checked workload for `seconds` and report whether its history is linearizable.
    case check(seconds: Double, clients: Int, keys: Int)
    case history, clear, help, exit
    /// Nothing to do (an empty line).
    case nothing
}

/// Turns short commands into requests. Words are case-insensitive; values may be quoted
/// ("two words" or 'two words') with backslash escapes, or given as named parameters
/// (`put --key k --value v`). A line starting with `{` is sent exactly as typed.
public enum ShortCommandParser {
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var description: String
        init(_ text: String) { description = text }
    }

    public static func parse(_ line: String) throws(Problem) -> ClientCommand {
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        if trimmed.hasPrefix("{") { return .send(String(trimmed), display: .raw) }
        let words = try tokenize(String(trimmed))
        guard let first = words.first else { return .nothing }
        var arguments = Arguments(Array(words.dropFirst()))
        var object = JSONObjectWriter()
        let display: ResponseDisplay
        switch first.lowercased() {
        case "put", "set":
            let key = try arguments.take("key", usage: "put KEY VALUE  or  put --key KEY --value VALUE")
            let value = try arguments.take("value", usage: "put KEY VALUE  or  put --key KEY --value VALUE")
            try arguments.finish("put KEY VALUE")
            object.member("op", string: "put")
            object.member("key", string: key)
            object.member("value", string: value)
            display = .raw
        case "get":
            let key = try arguments.take("key", usage: "get KEY [eventual|linearizable]")
            let consistency = arguments.takeOptional("consistency")?.lowercased()
            try arguments.finish("get KEY [eventual|linearizable]")
            object.member("op", string: "get")
            object.member("key", string: key)
            if let consistency {
                guard consistency == "eventual" || consistency == "linearizable" else {
                    throw Problem("consistency must be eventual or linearizable")
                }
                object.member("consistency", string: consistency)
            }
            display = .raw
        case "delete", "del":
            let key = try arguments.take("key", usage: "delete KEY")
            try arguments.finish("delete KEY")
            object.member("op", string: "delete")
            object.member("key", string: key)
            display = .raw
        case "cas":
            let usage = "cas KEY EXPECTED NEW   (EXPECTED null means the key must be absent)"
            let key = try arguments.take("key", usage: usage)
            let expect = try arguments.take("expect", usage: usage)
            let value = try arguments.take("value", usage: usage)
            try arguments.finish(usage)
            object.member("op", string: "cas")
            object.member("key", string: key)
            object.member("expect", string: expect == "null" ? nil : expect)
            object.member("value", string: value)
            display = .raw
        case "status":
            try arguments.finish("status")
            object.member("admin", string: "status")
            display = .statusTable
        case "cluster":
            try arguments.finish("cluster")
            object.member("admin", string: "status")
            display = .clusterSummary
        case "logsize":
            try arguments.finish("logsize")
            object.member("admin", string: "status")
            display = .logSizes
        case "metrics":
            let format = arguments.takeOptional("format")
            try arguments.finish("metrics [prometheus]")
            object.member("admin", string: "metrics")
            if let format { object.member("format", string: format.lowercased()) }
            display = format == nil ? .metrics : .raw
        case "kill", "restart":
            let name = first.lowercased()
            let node = try nodeNumber(try arguments.take("node", usage: "\(name) NODE"))
            try arguments.finish("\(name) NODE")
            object.member("admin", string: name)
            object.member("node", int: node)
            display = .raw
        case "isolate":
            let node = try nodeNumber(try arguments.take("node", usage: "isolate NODE"))
            try arguments.finish("isolate NODE")
            object.member("admin", string: "isolate")
            object.member("node", int: node)
            display = .raw
        case "heal":
            try arguments.finish("heal")
            object.member("admin", string: "heal")
            display = .raw
        case "slow":
            let node = try nodeNumber(try arguments.take("node", usage: "slow NODE MS"))
            let delayText = try arguments.take("ms", usage: "slow NODE MS")
            try arguments.finish("slow NODE MS")
            guard let delay = Int(delayText), delay >= 0 else { throw Problem("MS must be a non-negative number") }
            object.member("admin", string: "slow")
            object.member("node", int: node)
            object.member("ms", int: delay)
            display = .raw
        case "logs":
            let count = arguments.takeOptional("count")
            let node = arguments.takeNamed("node")
            try arguments.finish("logs [COUNT] [--node N]")
            object.member("admin", string: "logs")
            object.member("node", int: try node.map(nodeNumber) ?? -1)
            if let count {
                guard let number = Int(count), number >= 0 else { throw Problem("COUNT must be a non-negative number") }
                object.member("count", int: number)
            }
            display = .logEntries
        case "snapshot":
            let node = try arguments.takeOptional("node").map(nodeNumber)
            try arguments.finish("snapshot [NODE]")
            return .snapshot(node: node)
        case "partition":
            let groups = arguments.remaining.joined(separator: " ").split(separator: "|")
            guard groups.count >= 2 else { throw Problem("usage: partition 0,1 | 2") }
            var parsed: [JSONValue] = []
            for group in groups {
                var ids: [JSONValue] = []
                for item in group.split(whereSeparator: { $0 == "," || $0 == " " }) {
                    ids.append(.number(String(try nodeNumber(String(item)))))
                }
                parsed.append(.array(ids))
            }
            object.member("admin", string: "partition")
            object.member("groups", .array(parsed))
            display = .raw
        case "members":
            try arguments.finish("members")
            object.member("admin", string: "members")
            display = .members
        case "add":
            let usage = "add NODE [RAFT CLIENT HTTP]   (addresses host:port; leave them out in one process)"
            let node = try nodeNumber(try arguments.take("node", usage: usage))
            let raft = arguments.takeOptional("raft")
            let client = arguments.takeOptional("client")
            let http = arguments.takeOptional("http")
            try arguments.finish(usage)
            object.member("admin", string: "add")
            object.member("node", int: node)
            if let raft { object.member("raft", string: raft) }
            if let client { object.member("client", string: client) }
            if let http { object.member("http", string: http) }
            display = .members
        case "remove", "transfer", "crash":
            let name = first.lowercased()
            let lose = name == "crash" && (arguments.takeFlag("lose-unsynced"))
            let node = try nodeNumber(try arguments.take("node", usage: "\(name) NODE\(name == "crash" ? " [--lose-unsynced]" : "")"))
            try arguments.finish("\(name) NODE")
            object.member("admin", string: name)
            object.member("node", int: node)
            if name == "crash" { object.member("loseUnsynced", .bool(lose)) }
            display = name == "remove" ? .members : .raw
        case "pause", "resume":
            try arguments.finish(first.lowercased())
            object.member("admin", string: first.lowercased())
            display = .raw
        case "messages":
            try arguments.finish("messages")
            object.member("admin", string: "messages")
            display = .heldMessages
        case "deliver":
            let message = arguments.takeOptional("message")
            try arguments.finish("deliver [MESSAGE]")
            object.member("admin", string: "deliver")
            if let message { object.member("message", int: try number(message, "MESSAGE")) }
            display = .raw
        case "drop":
            let message = try arguments.take("message", usage: "drop MESSAGE")
            try arguments.finish("drop MESSAGE")
            object.member("admin", string: "drop")
            object.member("message", int: try number(message, "MESSAGE"))
            display = .raw
        case "tick":
            let node = try nodeNumber(try arguments.take("node", usage: "tick NODE [COUNT]"))
            let count = arguments.takeOptional("count")
            try arguments.finish("tick NODE [COUNT]")
            object.member("admin", string: "tick")
            object.member("node", int: node)
            if let count { object.member("count", int: try number(count, "COUNT")) }
            display = .raw
        case "disk":
            let usage = "disk NODE slow MS | disk NODE full | disk NODE ok"
            let node = try nodeNumber(try arguments.take("node", usage: usage))
            let fault = try arguments.take("fault", usage: usage).lowercased()
            object.member("admin", string: "disk")
            object.member("node", int: node)
            switch fault {
            case "slow":
                let ms = try number(try arguments.take("ms", usage: usage), "MS")
                object.member("fault", string: "slow")
                object.member("ms", int: ms)
            case "full": object.member("fault", string: "full")
            case "ok", "none", "heal": object.member("fault", string: "none")
            default: throw Problem("usage: \(usage)")
            }
            try arguments.finish(usage)
            display = .raw
        case "slowmotion":
            let factor = try number(try arguments.take("factor", usage: "slowmotion FACTOR"), "FACTOR")
            try arguments.finish("slowmotion FACTOR")
            object.member("admin", string: "slowmotion")
            object.member("factor", int: factor)
            display = .raw
        case "trace":
            let node = try arguments.takeOptional("node").map(nodeNumber)
            try arguments.finish("trace [NODE]")
            object.member("admin", string: "trace")
            if let node { object.member("node", int: node) }
            display = .traces
        case "check":
            let usage = "check [SECONDS] [--clients C] [--keys K]"
            var clients = 4, keys = 5
            if let text = arguments.takeNamed("clients") { clients = try number(text, "C") }
            if let text = arguments.takeNamed("keys") { keys = try number(text, "K") }
            var duration = 10.0
            if let text = arguments.takeOptional("seconds") {
                guard let value = Double(text), value > 0, value <= 3600 else { throw Problem("SECONDS must be a number from 0 to 3600") }
                duration = value
            }
            try arguments.finish(usage)
            guard clients >= 1, clients <= 64, keys >= 1 else { throw Problem("usage: \(usage) (1 to 64 clients, at least 1 key)") }
            return .check(seconds: duration, clients: clients, keys: keys)
        case "watch":
            let seconds = arguments.takeOptional("seconds")
            try arguments.finish("watch [SECONDS]")
            guard let seconds else { return .watch(seconds: nil) }
            guard let value = Double(seconds), value > 0 else { throw Problem("SECONDS must be a positive number") }
            return .watch(seconds: value)
        case "history": return .history
        case "clear", "cls": return .clear
        case "help", "?": return .help
        case "exit", "quit", "q": return .exit
        default:
            throw Problem("unknown command \"\(first)\"; type help")
        }
        return .send(object.finished(), display: display)
    }

    static func nodeNumber(_ text: String) throws(Problem) -> Int {
        guard let number = Int(text), number >= 0 else { throw Problem("\"\(text)\" is not a node id") }
        return number
    }

    static func number(_ text: String, _ name: String) throws(Problem) -> Int {
        guard let value = Int(text), value >= 0 else { throw Problem("\(name) must be a non-negative number, not \"\(text)\"") }
        return value
    }

    /// Positional and `--name value` arguments; named ones win over positional ones.
    struct Arguments {
        private var positional: [String] = []
        private var named: [String: String] = [:]

        init(_ words: [String]) {
            var index = 0
            while index < words.count {
                let word = words[index]
                if word.hasPrefix("--"), word.count > 2, index + 1 < words.count {
                    named[String(word.dropFirst(2)).lowercased()] = words[index + 1]
                    index += 2
                } else {
                    positional.append(word)
                    index += 1
                }
            }
        }

        var remaining: [String] { positional }

        mutating func takeNamed(_ name: String) -> String? {
            named.removeValue(forKey: name)
        }

        /// A `--name` flag without a value, anywhere among the words.
        mutating func takeFlag(_ name: String) -> Bool {
            if let position = positional.firstIndex(of: "--" + name) {
                positional.remove(at: position)
                return true
            }
            // `--name value` was read as a named pair: the value was really a positional word.
            if let value = named.removeValue(forKey: name) {
                positional.insert(value, at: 0)
                return true
            }
            return false
        }

        mutating func takeOptional(_ name: String) -> String? {
            if let value = named.removeValue(forKey: name) { return value }
            return positional.isEmpty ? nil : positional.removeFirst()
        }

        mutating func take(_ name: String, usage: String) throws(Problem) -> String {
            guard let value = takeOptional(name) else { throw Problem("usage: \(usage)") }
            return value
        }

        func finish(_ usage: String) throws(Problem) {
            if !positional.isEmpty || !named.isEmpty { throw Problem("usage: \(usage)") }
        }
    }

    /// Splits on spaces, keeping quoted text together and honouring backslash escapes.
    public static func tokenize(_ line: String) throws(Problem) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
                continue
            }
            if character == "\\" {
                escaped = true
                inWord = true
                continue
            }
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
                continue
            }
            if character == "\"" || character == "'" {
                quote = character
                inWord = true
                continue
            }
            if character == " " || character == "\t" {
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
                continue
            }
            current.append(character)
            inWord = true
        }
        if quote != nil { throw Problem("a quote is not closed") }
        if escaped { current.append("\\") }
        if inWord { words.append(current) }
        return words
    }

    public static let helpText = """
        Data (case-insensitive; quote values with spaces, or use --key/--value):
          put KEY VALUE              write                        put greeting "hello world"
          get KEY [linearizable]     read (eventual: from a follower, may be stale)
          delete KEY                 remove a key
          cas KEY EXPECTED NEW       compare-and-set (EXPECTED null = must be absent)
        Watching the cluster:
          status                     table: role, term, vote, log, commit, applied, state
          watch [SECONDS]            the table, refreshed in place (Enter or Ctrl-C stops)
          cluster                    who leads, in which term, who is up
          logsize                    log length, snapshot and entries held, per node
          logs [COUNT] [--node N]    the last COUNT entries of the leader's (or node N's) log
          metrics [prometheus]       counters and latencies
        Faults:
          kill N / restart N         crash node N / bring it back from its files
          crash N --lose-unsynced    power cut: kill N and drop every byte it had not fsynced
          partition 0,1 | 2          nodes talk only inside their group
          isolate N                  cut node N off from everyone
          slow N MS                  delay every message to and from node N
          disk N slow MS | full | ok every fsync of node N takes MS longer / writes fail / normal
          heal                       remove partitions, delays and disk faults
          snapshot [N]               snapshot every node (or node N) now
        Membership:
          members                    voters, learners and their addresses
          add N [RAFT CLIENT HTTP]   add node N (a learner until it has caught up, then a voter)
          remove N                   remove node N (leadership moves first if N leads)
          transfer N                 hand leadership to node N
        Step by step (every node in one process):
          pause / resume             stop timers and hold every message / deliver them and go on
          messages                   the held messages, oldest first
          deliver [M] / drop M       deliver (the oldest, or message M) / drop message M
          tick N [K]                 advance node N's timer K ticks (default 1)
          slowmotion F               every timer and deadline F times slower (1: normal speed)
          trace [N]                  write the flight recorder of node N (or all) to traceX.jsonl
        Checking:
          check [S] [--clients C] [--keys K]
                                     for S seconds (10), C connections (4) write, read, cas and delete
                                     K keys (5); then says whether the history is linearizable
        Client:
          history, !!, !N            list, repeat the last, repeat number N
          clear, help (?), exit
          {"key":"k"}                a line starting with { is sent as typed
        """
}
