#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ClusterServer
import RuntimeSupport
import Foundation
import LinCheck

if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "make-history" { exit(MakeHistoryCommand.run(Array(CommandLine.arguments.dropFirst(2)))) }
var options = BenchOptions.parse(Array(CommandLine.arguments.dropFirst()))
signal(SIGPIPE, SIG_IGN)
if let operations = options.checkerBenchmark {
    exit(CheckerBenchmark.run(operations: operations, keys: options.keys, clients: options.connections,
                              timeLimitSeconds: options.checkTimeLimitSeconds))
}

var server: ClusterServer?
var temporaryDirectory: String?
if options.embedded {
    var template = Array("/tmp/kvbench-XXXXXX".utf8CString)
    let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    temporaryDirectory = directory
    var config = ServerConfig()
    config.nodes = options.nodes
    config.proxyPort = 0
    config.httpPort = 0
    config.dataDir = directory
    config.fsync = options.fsync
    let embedded = ClusterServer(config: config, events: EventLog(minimumLevel: .warning))
    do {
        try embedded.start()
    } catch {
        FileHandleOut.error("KVBench: cannot start the embedded cluster: \(error)\n")
        exit(1)
    }
    server = embedded
    options.targets = [("127.0.0.1", options.http ? embedded.httpPort ?? 0 : embedded.port)]
    if options.sseReaders > 0 && options.sseTarget == nil { options.sseTarget = ("127.0.0.1", embedded.httpPort ?? 0) }
    // Wait for a leader before loading.
    let deadline = LoadGenerator.now() + 10_000_000_000
    while embedded.registry.leader == nil && LoadGenerator.now() < deadline { usleep(10_000) }
}

// Watchers need the puts' answer times; the table holds every put the run can make.
let ackTimes = options.watchers > 0
    ? AckTimes(capacity: min(50_000_000, Int((options.warmupSeconds + options.durationSeconds + 10) * 300_000))) : nil
let generator = LoadGenerator(options: options, ackTimes: ackTimes)
if options.preload && (options.workload == .get || options.workload == .mixed || options.workload == .range) {
    do {
        try generator.preload()
    } catch {
        FileHandleOut.error("KVBench: cannot reach \(options.targets[0].host):\(options.targets[0].port): \(error)\n")
        exit(1)
    }
}
var readers: SSEReaders?
if options.sseReaders > 0 {
    let target = options.sseTarget ?? options.targets[0]
    do {
        readers = try SSEReaders(count: options.sseReaders, host: target.host, port: target.port)
    } catch {
        FileHandleOut.error("KVBench: cannot open the event streams at \(target.host):\(target.port): \(error)\n")
        exit(1)
    }
}
var watchLoad: WatchLoad?
if let ackTimes {
    let target = options.targets[0]
    do {
        watchLoad = try WatchLoad(watches: options.watchers, connections: options.watchConnections ?? options.watchers,
                                  prefix: options.watchPrefix, host: target.host, port: target.port, threads: options.watchThreads,
                                  acks: ackTimes)
    } catch {
        FileHandleOut.error("KVBench: cannot open the watches at \(target.host):\(target.port): \(error)\n")
        exit(1)
    }
}
var leaseLoad: LeaseLoad?
if options.leases > 0 {
    let target = options.targets[0]
    do {
        let started = LoadGenerator.now()
        let load = try LeaseLoad(count: options.leases, ttlMs: options.leaseTTLMs, host: target.host, port: target.port)
        FileHandleOut.error("KVBench: granted \(load.ids.count) leases in \(String(format: "%.1f", Double(LoadGenerator.now() - started) / 1e9)) s\n")
        load.start()
        leaseLoad = load
    } catch {
        FileHandleOut.error("KVBench: cannot grant leases at \(target.host):\(target.port): \(error)\n")
        exit(1)
    }
}
let runStart = LoadGenerator.now()
watchLoad?.measure(from: runStart + UInt64(options.warmupSeconds * 1e9),
                   to: runStart + UInt64((options.warmupSeconds + options.durationSeconds) * 1e9))
let summary = generator.run()
readers?.stop()
let watchReport = watchLoad?.stop()
let leaseReport = leaseLoad?.stop()
leaseLoad?.revokeAll()
server?.stop()
if let temporaryDirectory {
    try? FileManager.default.removeItem(atPath: temporaryDirectory)
}

if let failure = summary.failure, summary.operations == 0 {
    FileHandleOut.error("KVBench: \(failure)\n")
    exit(1)
}
let rate = Double(summary.operations) / summary.seconds
let okRate = Double(summary.ok) / summary.seconds
let latency = summary.latenciesMs
func fixed(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }
let targetText = options.embedded ? "embedded \(options.nodes)-node cluster, fsync \(options.fsync ? "on" : "off")"
    : options.targets.map { "\($0.host):\($0.port)" }.joined(separator: ",")

// The linearizability check, when asked for.
var checkText: String?
var checkFailed = false
if options.check {
    let result = LinearizabilityChecker.check(summary.history, timeLimitSeconds: options.checkTimeLimitSeconds, clock: LoadGenerator.now)
    switch result.verdict {
    case .linearizable:
        checkText = "linearizable (\(result.operations) operations on \(result.keys) keys, checked in \(fixed(result.seconds, 2)) s)"
    case .violation(let key, let minimal):
        checkFailed = true
        checkText = "NOT linearizable (\(result.operations) operations, checked in \(fixed(result.seconds, 2)) s)\n" + Timeline.text(key: key, operations: minimal)
        if let path = options.checkReport {
            try? Timeline.html(key: key, operations: minimal).write(toFile: path, atomically: true, encoding: .utf8)
            checkText! += "\ntimeline written to \(path)"
        }
    case .unknown(let reason):
        checkText = "unknown: \(reason) (\(result.operations) operations)"
    }
}

var extraJSON = ""
if options.workload == .range { extraJSON += ",\"range_limit\":\(options.rangeLimit),\"keys_per_s\":\(fixed(okRate * Double(options.rangeLimit), 0))" }
if options.workload == .txn { extraJSON += ",\"txn_refused\":\(summary.txnRefused)" }
if let report = watchReport {
    extraJSON += ",\"watchers\":{\"watches\":\(report.watches),\"connections\":\(report.connections),\"prefix\":\"\(options.watchPrefix)\","
        + "\"events\":\(report.events),\"events_per_s\":\(fixed(Double(report.events) / summary.seconds, 0)),"
        + "\"before_answer\":\(report.beforeAnswer),\"slow_cuts\":\(report.slowCuts),"
        + "\"delivery_ms\":{\"p50\":\(fixed(report.latencyMs.p50, 3)),\"p99\":\(fixed(report.latencyMs.p99, 3)),"
        + "\"p999\":\(fixed(report.latencyMs.p999, 3)),\"max\":\(fixed(report.latencyMs.max, 3))}}"
}
if let report = leaseReport {
    extraJSON += ",\"leases\":{\"leases\":\(report.leases),\"rounds\":\(report.rounds),\"keepalives\":\(report.keepalives),"
        + "\"ok\":\(report.ok),\"not_found\":\(report.notFound),\"other_errors\":\(report.otherErrors),"
        + "\"slowest_round_ms\":\(fixed(report.slowestRoundMs, 1))}"
}
if options.json {
    let errors = summary.errors.keys.sorted().map { "\"\($0)\":\(summary.errors[$0]!)" }.joined(separator: ",")
    let histogram = summary.histogram.map { "[\($0.upToMs),\($0.count)]" }.joined(separator: ",")
    let check = checkText.map { ",\"check\":\"\($0.split(separator: "\n").first ?? "")\"" } ?? ""
    print("""
        {"workload":"\(options.workload.rawValue)","consistency":\(options.consistency.map { "\"\($0)\"" } ?? "null"),\
        "protocol":"\(options.http ? "http" : "jsonl")","targets":"\(targetText)",\
        "connections":\(options.connections),"pipeline":\(options.pipeline),"value_bytes":\(options.valueBytes),\
        "keys":\(options.keys),"seconds":\(options.durationSeconds),"embedded":\(options.embedded),"sse_readers":\(options.sseReaders),\
        "ops":\(summary.operations),"ok":\(summary.ok),"throughput_ops_s":\(fixed(rate, 1)),"ok_ops_s":\(fixed(okRate, 1)),\
        "latency_ms":{"p50":\(fixed(latency.p50, 3)),"p90":\(fixed(latency.p90, 3)),"p99":\(fixed(latency.p99, 3)),\
        "p999":\(fixed(latency.p999, 3)),"max":\(fixed(latency.max, 3))},"histogram_ms":[\(histogram)],"errors":{\(errors)}\(check),\
        "sessions":\(options.usesSessions),"retries":\(summary.retries)\(extraJSON)}
        """)
} else {
    print("\(options.workload.rawValue)\(options.consistency.map { " (\($0))" } ?? "") over \(options.http ? "HTTP" : "the line protocol") against \(targetText): \(options.connections) connections × pipeline \(options.pipeline), \(options.valueBytes)-byte values, \(options.keys) keys, \(fixed(options.durationSeconds, 0)) s after \(fixed(options.warmupSeconds, 0)) s warm-up\(options.sseReaders > 0 ? ", \(options.sseReaders) event-stream readers" : "")")
    print("throughput  \(fixed(rate, 0)) ops/s (ok \(fixed(okRate, 0))/s)")
    if options.workload == .range {
        print("ranges      \(options.rangeLimit) keys each from a random key (\(options.consistency ?? "eventual")): about \(fixed(okRate * Double(options.rangeLimit), 0)) keys/s")
    }
    if options.workload == .txn {
        print("txn         if counter modrev R then put counter N+1 else get counter: \(summary.ok - summary.txnRefused) incremented, \(summary.txnRefused) refused (the counter had moved)")
    }
    if options.usesSessions {
        print("sessions    on (client and seq per connection and slot): \(summary.retries) write\(summary.retries == 1 ? "" : "s") answered timeout and sent again with the same client and seq")
    }
    if let report = watchReport {
        let puts = Double(summary.ok)
        print("watchers    \(report.watches) watches on prefix \(options.watchPrefix) over \(report.connections) connections: \(report.events) events "
              + "(\(fixed(Double(report.events) / summary.seconds, 0))/s; \(fixed(Double(report.events) / max(puts, 1), 1)) per put answered), "
              + "\(report.slowCuts) cut off as slow")
        print("delivery ms p50 \(fixed(report.latencyMs.p50))  p99 \(fixed(report.latencyMs.p99))  p99.9 \(fixed(report.latencyMs.p999))  max \(fixed(report.latencyMs.max))"
              + "  (put answered → event received; \(report.beforeAnswer) events came before their put's answer, counted as 0)")
    }
    if let report = leaseReport {
        print("leases      \(report.leases) kept alive every second: \(report.keepalives) keepalives (\(report.ok) ok, \(report.notFound) not_found, "
              + "\(report.otherErrors) other) in \(report.rounds) rounds; slowest round \(fixed(report.slowestRoundMs, 1)) ms")
    }
    print("latency ms  p50 \(fixed(latency.p50))  p90 \(fixed(latency.p90))  p99 \(fixed(latency.p99))  p99.9 \(fixed(latency.p999))  max \(fixed(latency.max))")
    if options.histogram {
        let total = max(1, summary.operations)
        var previous = 0.0
        for bucket in summary.histogram where bucket.count > 0 {
            let bar = String(repeating: "█", count: max(1, bucket.count * 50 / total))
            print("  \(fixed(previous, 2))–\(fixed(bucket.upToMs, 2)) ms  \(String(repeating: " ", count: max(0, 8 - String(bucket.count).count)))\(bucket.count)  \(bar)")
            previous = bucket.upToMs
        }
    }
    if !summary.errors.isEmpty {
        print("errors      " + summary.errors.keys.sorted().map { "\($0) \(summary.errors[$0]!)" }.joined(separator: ", "))
    }
    if let checkText { print(checkText) }
}
exit(checkFailed ? 3 : 0)
