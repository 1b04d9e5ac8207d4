import KVWire

/// What `lease ...` asks for.
public enum LeaseCommand: Equatable, Sendable {
    case grant(ttlMs: Int64)
    /// Keep the lease alive (a keepalive every third of its TTL) until Ctrl-C or end of input.
    case keepAlive(Int64)
    case revoke(Int64)
    case info(Int64)
    /// The leases this ClientMain granted, with their info.
    case list
}

/// The lock and election recipes (docs/recipes.md).
public enum RecipeCommand: Equatable, Sendable {
    /// Hold lock NAME (`lock/NAME/`) until Ctrl-C or end of input — or, with a command, while
    /// that command runs (then ClientMain exits with its status).
    case lock(name: String, ttlMs: Int64, command: [String] = [])
    /// Campaign in election NAME (`election/NAME/`) with VALUE; lead until Ctrl-C or end of input.
    case elect(name: String, value: String, ttlMs: Int64)
    /// Print election NAME's leader each time it changes.
    case observe(name: String)

    public static let defaultTTLMs: Int64 = 5000

    /// The keys of this lock or election start with this.
    public var prefix: String {
        switch self {
        case .lock(let name, _, _): return "lock/\(name)/"
        case .elect(let name, _, _), .observe(let name): return "election/\(name)/"
        }
    }
}

/// follow, lease, lock, elect, observe: the commands that follow changes or hold something.
extension ShortCommandParser {
    static let followUsage = "follow KEY [--from REV]  or  follow --prefix PREFIX [--from REV]"
    static let leaseUsage = "lease grant TTL | lease keepalive ID | lease revoke ID | lease info ID | lease list   (TTL: 5s, 500ms, 2m; at least 1s)"
    static let lockUsage = "lock NAME [--ttl TTL] [-- COMMAND...]"
    static let electUsage = "elect NAME VALUE [--ttl TTL]  or  elect NAME --observe"

    /// The smallest TTL the server grants (`ttlMs` ≥ 1000).
    static let minimumTTLMs: Int64 = 1000

    /// `lock NAME [--ttl TTL] -- COMMAND...`: the words after `--` are the command to run while
    /// the lock is held (nil: the line has no `--`).
    static func lockWithCommand(_ words: [String]) throws(Problem) -> ClientCommand? {
        guard words.first?.lowercased() == "lock", let split = words.firstIndex(of: "--") else { return nil }
        let run = Array(words[(split + 1)...])
        guard !run.isEmpty else { throw Problem("usage: \(lockUsage)   (a command after --)") }
        var arguments = Arguments(Array(words[1..<split]))
        guard case .recipe(.lock(let name, let ttl, _))? = try streamCommand("lock", &arguments) else { return nil }
        return .recipe(.lock(name: name, ttlMs: ttl, command: run))
    }

    static func streamCommand(_ name: String, _ arguments: inout Arguments) throws(Problem) -> ClientCommand? {
        switch name {
        case "follow":
            let from = try arguments.takeNamed("from").map { text throws(Problem) in try revision(text, "--from") }
            if let prefix = arguments.takeNamed("prefix") {
                try arguments.finish(followUsage)
                return .follow(.prefix(prefix), fromRevision: from)
            }
            let key = try arguments.take("key", usage: followUsage)
            try arguments.finish(followUsage)
            return .follow(.key(key), fromRevision: from)
        case "lease":
            return .lease(try leaseCommand(&arguments))
        case "lock":
            let ttl = try arguments.takeNamed("ttl").map { text throws(Problem) in try ttlMs(text) } ?? RecipeCommand.defaultTTLMs
            let lockName = try recipeName(try arguments.take("name", usage: lockUsage))
            try arguments.finish(lockUsage)
            return .recipe(.lock(name: lockName, ttlMs: ttl))
        case "elect", "campaign":
            let observe = arguments.takeFlag("observe")
            let ttl = try arguments.takeNamed("ttl").map { text throws(Problem) in try ttlMs(text) } ?? RecipeCommand.defaultTTLMs
            let election = try recipeName(try arguments.take("name", usage: electUsage))
            if observe {
                try arguments.finish("elect NAME --observe")
                return .recipe(.observe(name: election))
            }
            let value = try arguments.take("value", usage: electUsage)
            try arguments.finish(electUsage)
            return .recipe(.elect(name: election, value: value, ttlMs: ttl))
        case "observe":
            let election = try recipeName(try arguments.take("name", usage: "observe NAME"))
            try arguments.finish("observe NAME")
            return .recipe(.observe(name: election))
        default:
            return nil
        }
    }

    static func leaseCommand(_ arguments: inout Arguments) throws(Problem) -> LeaseCommand {
        guard let action = arguments.takeOptional("action")?.lowercased() else { throw Problem("usage: \(leaseUsage)") }
        switch action {
        case "grant":
            let ttl = try ttlMs(try arguments.take("ttl", usage: "lease grant TTL   (5s, 500ms, 2m; at least 1s)"))
            try arguments.finish("lease grant TTL")
            return .grant(ttlMs: ttl)
        case "keepalive", "keep-alive", "revoke", "info":
            let usage = "lease \(action) ID"
            let id = try leaseID(try arguments.take("id", usage: usage))
            try arguments.finish(usage)
            switch action {
            case "revoke": return .revoke(id)
            case "info": return .info(id)
            default: return .keepAlive(id)
            }
        case "list", "ls":
            try arguments.finish("lease list")
            return .list
        default:
            throw Problem("usage: \(leaseUsage)")
        }
    }

    /// A TTL of at least a second.
    static func ttlMs(_ text: String) throws(Problem) -> Int64 {
        let ms = try Durations.milliseconds(text, what: "a TTL")
        guard ms >= minimumTTLMs else { throw Problem("a lease lives at least 1s (the server grants TTLs of 1000 ms or more), not \(text)") }
        return ms
    }

    static func leaseID(_ text: String) throws(Problem) -> Int64 {
        guard let id = Int64(text), id >= 0 else { throw Problem("a lease ID is the number lease grant printed, not \"\(text)\"") }
        return id
    }

    static func revision(_ text: String, _ name: String) throws(Problem) -> Int64 {
        guard let value = Int64(text), value >= 1 else { throw Problem("\(name) needs a revision (1 or more), not \"\(text)\"") }
        return value
    }

    /// A lock's or election's NAME: not empty, without `/` (the keys are `lock/NAME/<lease>`, so
    /// a `/` would put one lock's keys under another's prefix).
    static func recipeName(_ text: String) throws(Problem) -> String {
        guard !text.isEmpty, !text.contains("/") else { throw Problem("NAME must not be empty nor hold \"/\", not \"\(text)\"") }
        return text
    }
}
