import JSONText

/// What one line typed at the client means.
public enum ClientCommand: Equatable {
    /// Send this JSON line as it is.
    case send(String)
    case help
    case exit
    /// Nothing to do (an empty line).
    case nothing
}

/// Turns short commands into request lines: `put k v`, `get k`, `delete k`, `cas k old new`,
/// `status`, `kill N`, `restart N`, `partition 0,1 | 2`, `heal`, `slow N MS`, `logs N [count]`.
/// Words are case-insensitive; values may be quoted ("two words" or 'two words') with
/// backslash escapes. A line starting with `{` is sent exactly as typed.
public enum ShortCommandParser {
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var description: String
        init(_ text: String) { description = text }
    }

    public static func parse(_ line: String) throws(Problem) -> ClientCommand {
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        if trimmed.hasPrefix("{") { return .send(String(trimmed)) }
        let words = try tokenize(String(trimmed))
        guard let first = words.first else { return .nothing }
        let arguments = Array(words.dropFirst())
        func need(_ count: Int, _ usage: String) throws(Problem) {
            if arguments.count != count { throw Problem("usage: \(usage)") }
        }
        func node(_ text: String) throws(Problem) -> Int {
            guard let number = Int(text), number >= 0 else { throw Problem("\"\(text)\" is not a node id") }
            return number
        }
        var object = JSONObjectWriter()
        switch first.lowercased() {
        case "put", "set":
            try need(2, "put KEY VALUE")
            object.member("op", string: "put")
            object.member("key", string: arguments[0])
            object.member("value", string: arguments[1])
        case "get":
            guard arguments.count == 1 || arguments.count == 2 else { throw Problem("usage: get KEY [eventual|linearizable]") }
            object.member("op", string: "get")
            object.member("key", string: arguments[0])
            if arguments.count == 2 {
                let consistency = arguments[1].lowercased()
                guard consistency == "eventual" || consistency == "linearizable" else {
                    throw Problem("consistency must be eventual or linearizable")
                }
                object.member("consistency", string: consistency)
            }
        case "delete", "del":
            try need(1, "delete KEY")
            object.member("op", string: "delete")
            object.member("key", string: arguments[0])
        case "cas":
            try need(3, "cas KEY EXPECTED NEW   (EXPECTED null means the key must be absent)")
            object.member("op", string: "cas")
            object.member("key", string: arguments[0])
            object.member("expect", string: arguments[1] == "null" ? nil : arguments[1])
            object.member("value", string: arguments[2])
        case "status":
            try need(0, "status")
            object.member("admin", string: "status")
        case "kill", "restart":
            try need(1, "\(first.lowercased()) NODE")
            object.member("admin", string: first.lowercased())
            object.member("node", int: try node(arguments[0]))
        case "heal":
            try need(0, "heal")
            object.member("admin", string: "heal")
        case "slow":
            try need(2, "slow NODE MS")
            guard let delay = Int(arguments[1]), delay >= 0 else { throw Problem("MS must be a non-negative number") }
            object.member("admin", string: "slow")
            object.member("node", int: try node(arguments[0]))
            object.member("ms", int: delay)
        case "logs":
            guard arguments.count == 1 || arguments.count == 2 else { throw Problem("usage: logs NODE [COUNT]") }
            object.member("admin", string: "logs")
            object.member("node", int: try node(arguments[0]))
            if arguments.count == 2 {
                guard let count = Int(arguments[1]), count >= 0 else { throw Problem("COUNT must be a non-negative number") }
                object.member("count", int: count)
            }
        case "partition":
            let groups = arguments.joined(separator: " ").split(separator: "|")
            guard groups.count >= 2 else { throw Problem("usage: partition 0,1 | 2") }
            var parsed: [JSONValue] = []
            for group in groups {
                var ids: [JSONValue] = []
                for item in group.split(whereSeparator: { $0 == "," || $0 == " " }) {
                    ids.append(.number(String(try node(String(item)))))
                }
                parsed.append(.array(ids))
            }
            object.member("admin", string: "partition")
            object.member("groups", .array(parsed))
        case "help", "?":
            return .help
        case "exit", "quit":
            return .exit
        default:
            throw Problem("unknown command \"\(first)\"; type help")
        }
        return .send(object.finished())
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
        Commands (case-insensitive; quote values with spaces):
          put KEY VALUE            write a value            put greeting "hello world"
          get KEY [linearizable]   read a value (eventual by default, from a follower)
          delete KEY               remove a key
          cas KEY EXPECTED NEW     compare-and-set (EXPECTED null = key must be absent)
          status                   every node's role, term, vote, log and commit index
          kill N / restart N       crash node N / bring it back from its files
          partition 0,1 | 2        nodes talk only inside their group
          heal                     remove partitions and delays
          slow N MS                delay every message to and from node N
          logs N [COUNT]           the last COUNT log entries of node N
          {"key":"k"}              any line starting with { is sent as typed
          help, exit
        """
}
