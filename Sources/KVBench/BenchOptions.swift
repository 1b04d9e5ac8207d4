#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KVClient

/// What to measure, from the command line.
struct BenchOptions {
    enum Workload: String { case put, get, mixed, check, range, txn }

    var targets: [(host: String, port: Int)] = [("127.0.0.1", 7070)]
    var connections = 64
    var pipeline = 1
    var workload = Workload.put
    var consistency: String?
    var getRatio = 0.9
    var valueBytes = 100
    var keys = 10_000
    var durationSeconds = 10.0
    var warmupSeconds = 2.0
    var json = false
    var preload = true
    /// Speak HTTP (GET/PUT /v1/kv/KEY) instead of the line protocol; `targets` are HTTP ports.
    var http = false
    /// Server-sent-event readers to keep open on `/v1/events` meanwhile (a class of browsers).
    var sseReaders = 0
    var sseTarget: (host: String, port: Int)?
    var histogram = false
    /// Record every operation and check the history for linearizability afterwards.
    var check = false
    var checkTimeLimitSeconds = 30.0
    var checkReport: String?
    /// Time the linearizability checker alone on a made-up history of this many operations.
    var checkerBenchmark: Int?
    /// Start a cluster inside this process (temporary data directory) instead of using a running one.
    var embedded = false
    var nodes = 3
    var fsync = true
    /// Writes carry `client` and `seq` (one session per connection and pipeline slot), and a
    /// write answered `timeout` is sent again with the same pair. Nil: on for txn, off otherwise.
    var sessions: Bool?
    /// Keys per range in the range workload.
    var rangeLimit = 100
    /// How many times a write answered `timeout` is sent again (with sessions).
    var maxRetries = 5

    /// Watches kept open on `watchPrefix` during the run (events counted, delivery latency measured).
    var watchers = 0
    var watchPrefix = "k"
    /// Connections the watches are spread over (nil: one per watch).
    var watchConnections: Int?
    /// Threads reading the watch connections.
    var watchThreads = 2
    /// Leases granted before the run and kept alive every second during it.
    var leases = 0
    var leaseTTLMs: Int64 = 10_000

    var usesSessions: Bool { sessions ?? (workload == .txn) }

    static let usage = """
        KVBench — closed-loop load for a running ServerMain (or one it starts itself), with a
        linearizability check of what it saw.

        Usage: swift run -c release KVBench [options]

          --host H              server host (default 127.0.0.1)
          --port P              server port (default 7070)
          --targets H:P,H:P     several members: connections are spread over them (overrides --host/--port)
          --connections C       client connections (default 64), each with one request outstanding
          --pipeline D          requests outstanding per connection (default 1)
          --workload W          put, get, mixed, range, txn or check (default put):
                                range: ranges of --range-limit keys (100) from a random key among
                                --keys preloaded keys, eventual or linearizable by --consistency;
                                txn: each connection (and pipeline slot) increments its own counter
                                key with a compare-and-set by revision in one transaction
                                (if counter modrev R then put counter N+1 else get counter), with
                                sessions; a refused compare reads the counter and goes on;
                                check: --check with a mix of put, get, cas and delete on few keys
          --consistency C       eventual or linearizable, for gets and ranges (default: eventual)
          --range-limit N       keys per range in the range workload (default 100, at most 10000)
          --sessions            writes carry "client" and "seq" (a session per connection and
                                pipeline slot); a write answered timeout is sent again with the
                                same pair, counted as a retry (default for txn; off for the others)
          --no-sessions         writes carry no session (txn too)
          --get-ratio R         share of gets in mixed (default 0.9)
          --value-bytes N       value size (default 100)
          --keys N              key space, keys k00000.. chosen uniformly (default 10000)
          --duration S          measured seconds (default 10)
          --warmup S            unmeasured seconds first (default 2)
          --no-preload          do not write every key before a get, mixed or range run
          --token T             send this token with every line-protocol request (servers with tokens)
          --tls-ca FILE         speak TLS to the line protocol, checking the server against this CA
          --http                speak HTTP to the targets' HTTP ports: GET/PUT /v1/kv/KEY
          --sse N               keep N readers of /v1/events open during the run (browsers watching)
          --sse-target H:P      where they read (default: the first target; an HTTP port)
          --watchers N          keep N watches open on --watch-prefix during the run, and report
                                the events they received and the delivery latency (put answered →
                                event received, p50/p99; puts then carry their number in their value)
          --watch-prefix P      what the watchers follow (default k: every key of the load)
          --watch-connections C spread the watches over C connections (default: one per watch)
          --watch-threads T     threads reading the watch connections (default 2)
          --leases N            grant N leases before the run and keep each alive every second
                                during it; revoked afterwards
          --lease-ttl MS        their TTL in milliseconds (default 10000)
          --histogram           print a latency histogram
          --check               record every operation and check the history is linearizable
                                (gets are made linearizable; the run is not measured for speed)
          --check-time-limit S  give up checking after S seconds (default 30)
          --check-report FILE   write the failing operations as an HTML timeline (SVG) to FILE
          --checker-benchmark N time the checker alone on a made-up linearizable history of N
                                operations over --keys keys and --connections clients (no server)
          --json                one JSON object on stdout instead of text
          --embedded            start a cluster in this process on a temporary data directory
          --nodes N             nodes of the embedded cluster (default 3)
          --fsync on|off        fsync of the embedded cluster (default on)
          -h, --help            this help

        Prints ops/s and latency p50/p90/p99/p99.9/max (milliseconds, send to response).
        Exit status: 0 when done (and, with --check, the history is linearizable), 1 when the
        server cannot be reached, 2 for a bad command line, 3 when the history is not linearizable.
        """

    static func parse(_ arguments: [String]) -> BenchOptions {
        var options = BenchOptions()
        var remaining = arguments
        var host = "127.0.0.1"
        var port = 7070
        func fail(_ message: String) -> Never {
            FileHandleOut.error("KVBench: \(message) (see --help)\n")
            exit(2)
        }
        func value(_ flag: String) -> String {
            guard !remaining.isEmpty else { fail("\(flag) needs a value") }
            return remaining.removeFirst()
        }
        func number(_ flag: String, min: Double) -> Double {
            guard let parsed = Double(value(flag)), parsed >= min else { fail("\(flag) must be a number of at least \(min)") }
            return parsed
        }
        func address(_ text: String, _ flag: String) -> (host: String, port: Int) {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), port > 0, port < 65536 else {
                fail("\(flag) needs host:port, not \"\(text)\"")
            }
            return (String(text[..<colon]), port)
        }
        var targets: [(host: String, port: Int)]?
        while !remaining.isEmpty {
            let flag = remaining.removeFirst()
            switch flag {
            case "-h", "--help":
                print(usage)
                exit(0)
            case "--host": host = value(flag)
            case "--token": ClientConnection.defaults.withLock { $0.token = value(flag) }
            case "--tls-ca": ClientConnection.defaults.withLock { $0.caFile = value(flag) }
            case "--port": port = Int(number(flag, min: 1))
            case "--targets": targets = value(flag).split(separator: ",").map { address(String($0), flag) }
            case "--connections", "-c": options.connections = Int(number(flag, min: 1))
            case "--pipeline", "-p": options.pipeline = Int(number(flag, min: 1))
            case "--workload":
                guard let workload = Workload(rawValue: value(flag)) else { fail("--workload must be put, get, mixed, range, txn or check") }
                options.workload = workload
            case "--consistency":
                let name = value(flag)
                guard name == "eventual" || name == "linearizable" else { fail("--consistency must be eventual or linearizable") }
                options.consistency = name
            case "--get-ratio": options.getRatio = min(1, number(flag, min: 0))
            case "--value-bytes": options.valueBytes = Int(number(flag, min: 0))
            case "--keys": options.keys = Int(number(flag, min: 1))
            case "--duration": options.durationSeconds = number(flag, min: 0.1)
            case "--warmup": options.warmupSeconds = number(flag, min: 0)
            case "--no-preload": options.preload = false
            case "--sessions": options.sessions = true
            case "--no-sessions": options.sessions = false
            case "--range-limit":
                options.rangeLimit = Int(number(flag, min: 1))
                if options.rangeLimit > 10_000 { fail("--range-limit must be at most 10000") }
            case "--http": options.http = true
            case "--sse": options.sseReaders = Int(number(flag, min: 0))
            case "--sse-target": options.sseTarget = address(value(flag), flag)
            case "--watchers": options.watchers = Int(number(flag, min: 0))
            case "--watch-prefix": options.watchPrefix = value(flag)
            case "--watch-connections": options.watchConnections = Int(number(flag, min: 1))
            case "--watch-threads": options.watchThreads = Int(number(flag, min: 1))
            case "--leases": options.leases = Int(number(flag, min: 0))
            case "--lease-ttl": options.leaseTTLMs = Int64(number(flag, min: 1000))
            case "--histogram": options.histogram = true
            case "--check": options.check = true
            case "--checker-benchmark": options.checkerBenchmark = Int(number(flag, min: 1))
            case "--check-time-limit": options.checkTimeLimitSeconds = number(flag, min: 0.1)
            case "--check-report": options.checkReport = value(flag)
            case "--json": options.json = true
            case "--embedded": options.embedded = true
            case "--nodes": options.nodes = Int(number(flag, min: 1))
            case "--fsync":
                switch value(flag) {
                case "on", "true": options.fsync = true
                case "off", "false": options.fsync = false
                default: fail("--fsync must be on or off")
                }
            default:
                fail("unknown argument \"\(flag)\"")
            }
        }
        options.targets = targets ?? [(host, port)]
        if options.workload == .check { options.check = true }
        if options.check {
            options.consistency = "linearizable"
            if options.workload != .check { options.workload = .check }
        }
        return options
    }
}

enum FileHandleOut {
    static func error(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}
