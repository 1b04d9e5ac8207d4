import JSONText
import KVWire

/// How the client shows the answer to a request.
public enum ResponseDisplay: Equatable, Sendable {
    /// Print the response line exactly as received.
    case raw
    /// The cluster table (`status`), a one-paragraph summary (`cluster`), per-node log sizes
    /// (`logsize`), log entries (`logs`), metrics (`metrics`), the members (`members`), or the
    /// messages held while paused (`messages`).
    case statusTable, clusterSummary, logSizes, logEntries, metrics, members, heldMessages, traces, scenarios
    /// A range's keys as a table, with the command that continues it when there are more.
    case rangeTable(RangeQuery)
    /// A transaction's outcome: which branch ran, and each step's result.
    case transaction(Transaction)
}

/// `getall`: every key (under a prefix), page after page.
public struct GetAllQuery: Equatable, Sendable {
    public var prefix: String?
    public var keysOnly: Bool
    public var consistency: ReadConsistency

    public init(prefix: String? = nil, keysOnly: Bool = false, consistency: ReadConsistency = .eventual) {
        self.prefix = prefix
        self.keysOnly = keysOnly
        self.consistency = consistency
    }
}

/// What one line typed at the client means.
public enum ClientCommand: Equatable, Sendable {
    /// Send this JSON line, show the answer as `display`.
    case send(String, display: ResponseDisplay)
    /// Send this write with the client's session (`client`, next `seq`), again with the same
    /// session when answered `timeout`; show the answer as `display`.
    case write(ClientRequest, display: ResponseDisplay)
    /// Every key, paged: a table a page at a time on a terminal, JSON lines otherwise.
    case getAll(GetAllQuery)
    /// Refresh the status table every half second, for `seconds` (nil: until Enter or Ctrl-C).
    case watch(seconds: Double?)
    /// Snapshot every node (or one): one request per node.
    case snapshot(node: Int?)
    /// Run a checked workload for `seconds` and report whether its history is linearizable.
    case check(seconds: Double, clients: Int, keys: Int)
    /// Print the changes to a key or under a prefix as they come (`follow`), until stopped.
    case follow(WatchTarget, fromRevision: Int64?)
    case lease(LeaseCommand)
    /// The lock and election recipes.
    case recipe(RecipeCommand)
    case history, clear, help, exit
    /// Nothing to do (an empty line).
    case nothing
}

/// Turns short commands into requests. Words are case-insensitive; values may be quoted
/// ("two words" or 'two words') with backslash escapes, or given as named parameters
/// (`put --key k --value v`). A line starting with `{` is sent exactly as typed. Requests are
/// built as `ClientRequest` values and written by `RequestEncoder`, as every other client does.
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
        if first.lowercased() == "txn" { return try TxnSyntax.command(String(trimmed)) }
        if let command = try lockWithCommand(words) { return command }
        var arguments = Arguments(Array(words.dropFirst()))
        let name = first.lowercased()
        if let command = try dataCommand(name, &arguments) { return command }
        if let command = try viewCommand(name, &arguments) { return command }
        if let command = try faultCommand(name, &arguments) { return command }
        if let command = try membershipCommand(name, &arguments) { return command }
        if let command = try stepCommand(name, &arguments) { return command }
        if let command = try streamCommand(name, &arguments) { return command }
        if let command = try scenarioCommand(name, &arguments) { return command }
        switch name {
        case "snapshot":
            let node = try arguments.takeOptional("node").map(nodeNumber)
            try arguments.finish("snapshot [NODE]")
            return .snapshot(node: node)
        case "check":
            return try checkCommand(&arguments)
        case "backup":
            return try backupCommand(&arguments)
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
    }

    static func send(_ request: ClientRequest, _ display: ResponseDisplay = .raw) -> ClientCommand {
        .send(RequestEncoder.line(request), display: display)
    }


    static func write(_ request: ClientRequest, _ display: ResponseDisplay = .raw) -> ClientCommand {
        .write(request, display: display)
    }

    /// put, get, delete, cas, range, getall.
    static func dataCommand(_ name: String, _ arguments: inout Arguments) throws(Problem) -> ClientCommand? {
        switch name {
        case "put", "set":
            let usage = "put KEY VALUE [--lease ID] [--revisions]  or  put --key KEY --value VALUE"
            let revisions = arguments.takeFlag("revisions")
            let lease = try arguments.takeNamed("lease").map { text throws(Problem) in try leaseID(text) }
            let key = try arguments.take("key", usage: usage)
            let value = try arguments.take("value", usage: usage)
            try arguments.finish("put KEY VALUE [--lease ID] [--revisions]")
            return write(ClientRequest(.put(key: key, value: value, lease: lease), revisions: revisions))
        case "get":
            let usage = "get KEY [eventual|linearizable] [--revisions]"
            let revisions = arguments.takeFlag("revisions")
            let linearizable = arguments.takeFlag("linearizable")
            let key = try arguments.take("key", usage: usage)
            let consistency = arguments.takeOptional("consistency")?.lowercased()
            try arguments.finish(usage)
            guard let level = ReadConsistency(rawValue: consistency ?? (linearizable ? "linearizable" : "eventual")) else {
                throw Problem("consistency must be eventual or linearizable")
            }
            return send(ClientRequest(.get(key: key, consistency: level), revisions: revisions))
        case "delete", "del":
            let usage = "delete KEY  or  delete --prefix PREFIX"
            let revisions = arguments.takeFlag("revisions")
            if let prefix = arguments.takeNamed("prefix") {
                try arguments.finish("delete --prefix PREFIX")
                return write(ClientRequest(.deletePrefix(prefix), revisions: revisions))
            }
            let key = try arguments.take("key", usage: usage)
            try arguments.finish(usage)
            return write(ClientRequest(.delete(key: key), revisions: revisions))
        case "cas":
            let usage = "cas KEY EXPECTED NEW  (EXPECTED null: the key must be absent)  or  cas KEY --rev R NEW  (R: its modRevision, 0: absent)"
            let revisions = arguments.takeFlag("revisions")
            if let revisionText = arguments.takeNamed("rev") {
                guard let revision = Int64(revisionText), revision >= 0 else {
                    throw Problem("--rev must be a revision (0 or more; 0: the key must be absent), not \"\(revisionText)\"")
                }
                let key = try arguments.take("key", usage: usage)
                let value = try arguments.take("value", usage: usage)
                try arguments.finish("cas KEY --rev R NEW")
                return write(ClientRequest(.casRevision(key: key, expectRevision: revision, value: value), revisions: revisions))
            }
            let key = try arguments.take("key", usage: usage)
            let expect = try arguments.take("expect", usage: usage)
            let value = try arguments.take("value", usage: usage)
            try arguments.finish(usage)
            return write(ClientRequest(.cas(key: key, expect: expect == "null" ? nil : expect, value: value), revisions: revisions))
        case "range":
            let revisions = arguments.takeFlag("revisions")
            let query = try rangeQuery(&arguments, usage: rangeUsage, allowConsistency: true)
            return send(ClientRequest(.range(query), revisions: revisions), .rangeTable(query))
        case "getall":
            let usage = "getall [--prefix PREFIX] [--keys-only] [--linearizable]"
            var query = GetAllQuery()
            query.prefix = arguments.takeNamed("prefix")
            query.keysOnly = arguments.takeFlag("keys-only")
            query.consistency = arguments.takeFlag("linearizable") ? .linearizable : .eventual
            try arguments.finish(usage)
            return .getAll(query)
        default:
            return nil
        }
    }

    static let rangeUsage = "range [--prefix PREFIX | FROM [TO]] [--limit N] [--after KEY] [--keys-only] [--linearizable] [--revisions]"

    /// The words of a range: `--prefix P` or `FROM [TO]` (TO exclusive), `--limit N`, `--after K`,
    /// `--keys-only`, and (outside a txn) `--linearizable`.
    static func rangeQuery(_ arguments: inout Arguments, usage: String, allowConsistency: Bool) throws(Problem) -> RangeQuery {
        var query = RangeQuery()
        query.prefix = arguments.takeNamed("prefix")
        if let text = arguments.takeNamed("limit") {
            guard let limit = Int(text), limit >= 1, limit <= RangeQuery.maxLimit else {
                throw Problem("--limit must be a number from 1 to \(RangeQuery.maxLimit), not \"\(text)\"")
            }
            query.limit = limit
        }
        query.after = arguments.takeNamed("after")
        query.keysOnly = arguments.takeFlag("keys-only")
        if allowConsistency && arguments.takeFlag("linearizable") { query.consistency = .linearizable }
        query.from = arguments.takeOptional("from")
        query.to = arguments.takeOptional("to")
        try arguments.finish(usage)
        if query.prefix != nil && query.from != nil {
            throw Problem("a range takes --prefix PREFIX or FROM [TO], not both")
        }
        if let from = query.from, let to = query.to, to.utf8.lexicographicallyPrecedes(from.utf8) {
            throw Problem("FROM must not come after TO (keys compare by their UTF-8 bytes): \"\(from)\" > \"\(to)\"")
        }
        return query
    }

    /// status, cluster, logsize, metrics, logs, trace: views of the cluster.
    static func viewCommand(_ name: String, _ arguments: inout Arguments) throws(Problem) -> ClientCommand? {
        switch name {
        case "status", "cluster", "logsize":
            try arguments.finish(name)
            let display: ResponseDisplay = name == "status" ? .statusTable : (name == "cluster" ? .clusterSummary : .logSizes)
            return send(.admin(.status), display)
        case "metrics":
            let format = arguments.takeOptional("format")?.lowercased()
            try arguments.finish("metrics [prometheus]")
            guard format == nil || format == "prometheus" || format == "json" else { throw Problem("usage: metrics [prometheus]") }
            return send(.admin(.metrics(prometheus: format == "prometheus")), format == nil ? .metrics : .raw)
        case "logs":
            let count = arguments.takeOptional("count")
            let node = arguments.takeNamed("node")
            try arguments.finish("logs [COUNT] [--node N]")
            return send(.admin(.logs(node: try node.map(nodeNumber) ?? -1, count: try count.map { text throws(Problem) in try number(text, "COUNT") } ?? 10)),
                        .logEntries)
        case "trace":
            let node = try arguments.takeOptional("node").map(nodeNumber)
            try arguments.finish("trace [NODE]")
            return send(.admin(.trace(node: node)), .traces)
        default:
            return nil
        }
    }

    /// kill, restart, crash, isolate, partition, slow, disk, heal.
    static func faultCommand(_ name: String, _ arguments: inout Arguments) throws(Problem) -> ClientCommand? {
        switch name {
        case "kill", "restart", "isolate":
            let node = try nodeNumber(try arguments.take("node", usage: "\(name) NODE"))
            try arguments.finish("\(name) NODE")
            return send(.admin(name == "kill" ? .kill(node: node) : (name == "restart" ? .restart(node: node) : .isolate(node: node))))
        case "crash":
            let lose = arguments.takeFlag("lose-unsynced")
            let node = try nodeNumber(try arguments.take("node", usage: "crash NODE [--lose-unsynced]"))
            try arguments.finish("crash NODE")
            return send(.admin(.crash(node: node, loseUnsynced: lose)))
        case "heal":
            try arguments.finish("heal")
            return send(.admin(.heal))
        case "slow":
            let node = try nodeNumber(try arguments.take("node", usage: "slow NODE MS"))
            let delay = try number(try arguments.take("ms", usage: "slow NODE MS"), "MS")
            try arguments.finish("slow NODE MS")
            return send(.admin(.slow(node: node, delayMs: delay)))
        case "partition":
            let groups = arguments.remaining.joined(separator: " ").split(separator: "|")
            guard groups.count >= 2 else { throw Problem("usage: partition 0,1 | 2") }
            var parsed: [[Int]] = []
            for group in groups {
                var ids: [Int] = []
                for item in group.split(whereSeparator: { $0 == "," || $0 == " " }) { ids.append(try nodeNumber(String(item))) }
                parsed.append(ids)
            }
            return send(.admin(.partition(groups: parsed)))
        case "disk":
            let usage = "disk NODE slow MS | disk NODE full | disk NODE ok"
            let node = try nodeNumber(try arguments.take("node", usage: usage))
            let fault: DiskFault
            switch try arguments.take("fault", usage: usage).lowercased() {
            case "slow": fault = .slow(ms: try number(try arguments.take("ms", usage: usage), "MS"))
            case "full": fault = .full
            case "ok", "none", "heal": fault = .none
            default: throw Problem("usage: \(usage)")
            }
            try arguments.finish(usage)
            return send(.admin(.disk(node: node, fault: fault)))
        default:
            return nil
        }
    }

    /// members, add, remove, transfer.
    static func membershipCommand(_ name: String, _ arguments: inout Arguments) throws(Problem) -> ClientCommand? {
        switch name {
        case "members":
            try arguments.finish("members")
            return send(.admin(.members), .members)
        case "add":
            let usage = "add NODE [RAFT CLIENT HTTP]   (addresses host:port; leave them out in one process)"
            let node = try nodeNumber(try arguments.take("node", usage: usage))
            let addresses = MemberAddressFields(raft: arguments.takeOptional("raft"), client: arguments.takeOptional("client"),
                                                http: arguments.takeOptional("http"))
            try arguments.finish(usage)
            return send(.admin(.add(node: node, addresses: addresses)), .members)
        case "remove", "transfer":
            let node = try nodeNumber(try arguments.take("node", usage: "\(name) NODE"))
            try arguments.finish("\(name) NODE")
            return name == "remove" ? send(.admin(.remove(node: node)), .members) : send(.admin(.transfer(node: node)))
        default:
            return nil
        }
    }

    /// pause, resume, messages, deliver, drop, tick, slowmotion.
    static func stepCommand(_ name: String, _ arguments: inout Arguments) throws(Problem) -> ClientCommand? {
        switch name {
        case "pause", "resume":
            try arguments.finish(name)
            return send(.admin(name == "pause" ? .pause : .resume))
        case "messages":
            try arguments.finish("messages")
            return send(.admin(.messages), .heldMessages)
        case "deliver":
            let message = try arguments.takeOptional("message").map { text throws(Problem) in try number(text, "MESSAGE") }
            try arguments.finish("deliver [MESSAGE]")
            return send(.admin(.deliver(message: message)))
        case "drop":
            let message = try number(try arguments.take("message", usage: "drop MESSAGE"), "MESSAGE")
            try arguments.finish("drop MESSAGE")
            return send(.admin(.drop(message: message)))
        case "tick":
            let node = try nodeNumber(try arguments.take("node", usage: "tick NODE [COUNT]"))
            let count = try arguments.takeOptional("count").map { text throws(Problem) in try number(text, "COUNT") } ?? 1
            try arguments.finish("tick NODE [COUNT]")
            return send(.admin(.tick(node: node, count: count)))
        case "slowmotion":
            let factor = try number(try arguments.take("factor", usage: "slowmotion FACTOR"), "FACTOR")
            try arguments.finish("slowmotion FACTOR")
            return send(.admin(.slowMotion(factor: factor)))
        default:
            return nil
        }
    }

    static func checkCommand(_ arguments: inout Arguments) throws(Problem) -> ClientCommand {
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
    }

    static func nodeNumber(_ text: String) throws(Problem) -> Int {
        guard let number = Int(text), number >= 0 else { throw Problem("\"\(text)\" is not a node id") }
        return number
    }

    static func number(_ text: String, _ name: String) throws(Problem) -> Int {
        guard let value = Int(text), value >= 0 else { throw Problem("\(name) must be a non-negative number, not \"\(text)\"") }
        return value
    }
}
