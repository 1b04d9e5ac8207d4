#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ClusterServer
import Dispatch
import NodeHosting
import RuntimeSupport

let usage = """
    ServerMain — a Raft-replicated key-value store: N nodes in one process behind a JSON-lines proxy,
    or one node per process talking to the others over TCP.

    Usage: ServerMain [options]
           ServerMain --config FILE --node N [--join HOST:PORT]
           ServerMain --replay DIR [--replay DIR...] [--until STEP] [--steps]
           ServerMain --replay DIR [--replay DIR...] --http-port P
           ServerMain --make-certs DIR [--config FILE]
           ServerMain --restore BACKUP --data-dir DIR [--nodes N | --config FILE]

      --config FILE        configuration file (default: config/cluster.json)
      --nodes N            number of Raft nodes in one process (overrides "nodes")
      --port P             proxy TCP port (overrides "proxy.port"; 0 picks a free port)
      --http-port P        HTTP port for the API and the web page (overrides "http.port")
      --data-dir DIR       where metaX.txt and log0X.txt live (overrides "dataDir")
      --node N             run node N alone, at the addresses of its "members" entry
      --join HOST:PORT     with --node: ask the member whose client port is HOST:PORT to add this node
      --seed S             fix the election randomness (node i uses S+i), for repeatable demos
      --slow FACTOR        slow motion: stretch heartbeats and election timeouts FACTOR times
      --record             write every node's flight recorder to DIR/traceN.jsonl as it happens
      --log-level LEVEL    debug, info (default), warning or error
      --log-format FORMAT  text (default) or json (one object per line, for tools)
      --quiet              only warnings and errors
      -h, --help           show this help

    Security (see docs/security.md):
      --make-certs DIR     write DIR/ca.pem, DIR/ca-key.pem and, for every member of the config (node 0 in
                           one process), DIR/memberN.pem and DIR/memberN-key.pem, valid for the member's
                           hosts, localhost and 127.0.0.1; then point "tls" at them: {"cert":
                           "DIR/member{id}.pem", "key": "DIR/member{id}-key.pem", "ca": "DIR/ca.pem"}
      A server listening on an address other than loopback refuses to start without "auth" tokens
      (and, for members' raft addresses, without "peerSecret" or "tls").

    Backup and restore (see docs/operations.md):
      --restore BACKUP     write a new cluster's files under --data-dir DIR (or the config's dataDir) from
                           a backup ({"admin":"backup","path":P}, ClientMain: backup FILE): voters 0..N-1
                           (--nodes N) or the config's members; refuses a damaged backup or a directory
                           that holds files (exit status 2), then exits 0; start the cluster on DIR

    Replay (re-runs the recorded cores, checks them against the recording and the safety rules):
      --replay DIR         a directory of traceN.jsonl files (repeat for one-node-per-process runs)
      --until STEP         stop after STEP steps and show the cluster there
      --steps              list every step as it is replayed
      --context N          steps shown before a stop or a problem (default 12)
      --http-port P        with --replay: serve the page in time-travel mode on 127.0.0.1:P (drag
                           a timeline of the run; GET /v1/replay, /v1/replay/state?step=S) — see
                           docs/time-travel.md

    Clients speak one JSON object per line, e.g. {"key":"snack","value":"chips"}; see README.md.
    Stop with Ctrl-C (SIGINT) or SIGTERM: requests in flight are finished and files synced.
    Exit status: 0 after a clean stop, 2 for a bad configuration or command line.
    """

func fail(_ message: String) -> Never {
    FileHandleStderr.write("ServerMain: \(message)\n")
    exit(2)
}

enum FileHandleStderr {
    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

let options = ServerOptions.parse(Array(CommandLine.arguments.dropFirst()))
if !options.replay.isEmpty, let port = options.overrides.last(where: { $0.flag == "--http-port" }).flatMap({ Int($0.value) }) {
    exit(ReplayServeCommand.run(directories: options.replay, port: port))
}
if !options.replay.isEmpty {
    exit(ReplayCommand.run(directories: options.replay, until: options.replayUntil, listSteps: options.replaySteps,
                           context: options.replayContext))
}
if let backup = options.restore {
    exit(RestoreCommand.run(backupPath: backup, options: options))
}
let configPath = options.configPath
let overrides = options.overrides
var config: ServerConfig
do {
    config = try ServerConfig.load(path: configPath)
} catch {
    fail("bad configuration: \(error)")
}
options.apply(to: &config)
if let directory = options.makeCerts {
    exit(MakeCertsCommand.run(directory: directory, config: config, configPath: configPath))
}
if let problem = config.exposureProblem(memberID: options.node) {
    fail("\(configPath): \(problem)")
}

// Many clients need many descriptors: raise the soft limit to the hard one.
var limit = rlimit()
if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur < limit.rlim_max {
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
signal(SIGPIPE, SIG_IGN)

let events = EventLog(minimumLevel: options.logLevel, format: options.logFormat)
let server: ClusterServer
if let node = options.node {
    if let entry = config.member(node), !entry.initial, options.join == nil {
        fail("\(configPath): node \(node) is not an initial member (\"initial\": false); start it with --join HOST:PORT (a member's client address)")
    }
    do {
        server = try ClusterServer.member(config: config, id: node, joining: options.join != nil, events: events)
    } catch {
        fail("\(configPath): \(error)")
    }
} else {
    server = ClusterServer(config: config, events: events)
}
do {
    try server.start()
} catch let error {
    if case .proxy(let proxyError) = error {
        let source: String
        if let node = options.node {
            source = "\(configPath): key \"members\" (client address of node \(node))"
        } else {
            source = overrides.contains { $0.flag == "--port" } ? "--port" : "\(configPath): key \"proxy.port\""
        }
        fail("\(source): \(proxyError)")
    }
    fail("\(error)")
}
if let join = options.join, let node = options.node {
    server.join(via: join, as: node)
}

// Signals are handled on the main queue, which dispatchMain() below serves.
var signalSources: [DispatchSourceSignal] = []
for number in [SIGINT, SIGTERM] {
    signal(number, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
    source.setEventHandler {
        events.log("received \(number == SIGINT ? "SIGINT" : "SIGTERM")")
        server.stop()
        exit(0)
    }
    source.resume()
    signalSources.append(source)
}
dispatchMain()
