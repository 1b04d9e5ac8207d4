#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ClusterServer
import NodeHosting
import RuntimeSupport

/// The command line of ServerMain, parsed; every mistake ends the program with status 2.
struct ServerOptions {
    var configPath = "config/cluster.json"
    var overrides: [(flag: String, value: String)] = []
    var logLevel = EventLog.Level.info
    var logFormat = EventLog.Format.text
    /// One node per process: the node this process runs.
    var node: Int?
    /// A current member's client address to ask for `add`.
    var join: String?
    /// Replay mode: the directories holding trace files, where to stop, and how to show steps.
    var replay: [String] = []
    var replayUntil: Int?
    var replaySteps = false
    var replayContext = 12
    /// `--make-certs DIR`: write a CA and member certificates for the config, then exit.
    var makeCerts: String?
    /// `--restore FILE`: write a new cluster's files from a backup, then exit.
    var restore: String?
    var configGiven = false

    static func parse(_ arguments: [String]) -> ServerOptions {
        var options = ServerOptions()
        var remaining = arguments
        func takeValue(_ flag: String) -> String {
            guard !remaining.isEmpty else { fail("\(flag) needs a value (see --help)") }
            return remaining.removeFirst()
        }
        while let argument = remaining.first {
            remaining.removeFirst()
            var flag = argument
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                flag = String(argument[..<equals])
                remaining.insert(String(argument[argument.index(after: equals)...]), at: 0)
            }
            switch flag {
            case "-h", "--help":
                print(usage)
                exit(0)
            case "--config":
                options.configPath = takeValue(flag)
                options.configGiven = true
            case "--restore":
                options.restore = takeValue(flag)
            case "--replay":
                options.replay.append(takeValue(flag))
            case "--until":
                let value = takeValue(flag)
                guard let step = Int(value), step >= 0 else { fail("--until must be a step number (0 or more), not \"\(value)\"") }
                options.replayUntil = step
            case "--steps":
                options.replaySteps = true
            case "--context":
                let value = takeValue(flag)
                guard let count = Int(value), count >= 0, count <= 100_000 else { fail("--context must be a number of steps, not \"\(value)\"") }
                options.replayContext = count
            case "--record":
                options.overrides.append((flag, "true"))
            case "--nodes", "--port", "--data-dir", "--seed", "--slow", "--http-port":
                options.overrides.append((flag, takeValue(flag)))
            case "--log-level":
                let name = takeValue(flag)
                guard let level = EventLog.Level(name: name) else {
                    fail("--log-level must be debug, info, warning or error, not \"\(name)\"")
                }
                options.logLevel = level
            case "--log-format":
                switch takeValue(flag) {
                case "text": options.logFormat = .text
                case "json": options.logFormat = .json
                case let other: fail("--log-format must be text or json, not \"\(other)\"")
                }
            case "--quiet":
                options.logLevel = .warning
            case "--node":
                let value = takeValue(flag)
                guard let id = Int(value), id >= 0, id <= 63 else { fail("--node must be a node id from 0 to 63, not \"\(value)\"") }
                options.node = id
            case "--make-certs":
                options.makeCerts = takeValue(flag)
            case "--join":
                let value = takeValue(flag)
                guard MemberAddresses.split(value) != nil else { fail("--join needs a member's client address host:port, not \"\(value)\"") }
                options.join = value
            default:
                fail("unknown argument \"\(argument)\" (see --help)")
            }
        }
        if options.join != nil && options.node == nil { fail("--join needs --node N (the id this new member takes)") }
        if options.replay.isEmpty && (options.replayUntil != nil || options.replaySteps) {
            fail("--until and --steps go with --replay DIR")
        }
        return options
    }

    /// Applies the command-line overrides on top of the file's settings.
    func apply(to config: inout ServerConfig) {
        for (flag, value) in overrides {
            func number(min: Int, max: Int) -> Int {
                guard let parsed = Int(value), parsed >= min, parsed <= max else {
                    fail("\(flag) must be an integer from \(min) to \(max), not \"\(value)\"")
                }
                return parsed
            }
            switch flag {
            case "--nodes": config.nodes = number(min: 1, max: 64)
            case "--port": config.proxyPort = number(min: 0, max: 65535)
            case "--data-dir":
                guard !value.isEmpty else { fail("--data-dir must not be empty") }
                config.dataDir = value
            case "--seed": config.seed = UInt64(number(min: 0, max: Int.max))
            case "--http-port": config.httpPort = number(min: 0, max: 65535)
            case "--record": config.record = true
            case "--slow":
                guard let factor = Double(value), factor >= 1, factor <= 1000 else {
                    fail("--slow must be a number from 1 to 1000, not \"\(value)\"")
                }
                config.slowFactor = factor
            default: break
            }
        }
    }
}
