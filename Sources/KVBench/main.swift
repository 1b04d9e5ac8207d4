#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ClusterServer
import Foundation

let options = BenchOptions.parse(Array(CommandLine.arguments.dropFirst()))
signal(SIGPIPE, SIG_IGN)

var server: ClusterServer?
var temporaryDirectory: String?
var port = options.port
if options.embedded {
    var template = Array("/tmp/kvbench-XXXXXX".utf8CString)
    let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    temporaryDirectory = directory
    var config = ServerConfig()
    config.nodes = options.nodes
    config.proxyPort = 0
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
    port = embedded.port
    // Wait for a leader before loading.
    let deadline = LoadGenerator.now() + 10_000_000_000
    while embedded.registry.leader == nil && LoadGenerator.now() < deadline { usleep(10_000) }
}

let generator = LoadGenerator(options: options, port: port)
if options.preload && options.workload != .put {
    do {
        try generator.preload()
    } catch {
        FileHandleOut.error("KVBench: cannot reach \(options.host):\(port): \(error)\n")
        exit(1)
    }
}
let summary = generator.run()
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
if options.json {
    let errors = summary.errors.keys.sorted().map { "\"\($0)\":\(summary.errors[$0]!)" }.joined(separator: ",")
    print("""
        {"workload":"\(options.workload.rawValue)","consistency":\(options.consistency.map { "\"\($0)\"" } ?? "null"),\
        "connections":\(options.connections),"pipeline":\(options.pipeline),"value_bytes":\(options.valueBytes),\
        "keys":\(options.keys),"seconds":\(options.durationSeconds),"embedded":\(options.embedded),\
        "ops":\(summary.operations),"ok":\(summary.ok),"throughput_ops_s":\(fixed(rate, 1)),"ok_ops_s":\(fixed(okRate, 1)),\
        "latency_ms":{"p50":\(fixed(latency.p50, 3)),"p90":\(fixed(latency.p90, 3)),"p99":\(fixed(latency.p99, 3)),\
        "p999":\(fixed(latency.p999, 3)),"max":\(fixed(latency.max, 3))},"errors":{\(errors)}}
        """)
} else {
    let target = options.embedded ? "embedded \(options.nodes)-node cluster, fsync \(options.fsync ? "on" : "off")" : "\(options.host):\(port)"
    print("\(options.workload.rawValue)\(options.consistency.map { " (\($0))" } ?? "") against \(target): \(options.connections) connections × pipeline \(options.pipeline), \(options.valueBytes)-byte values, \(options.keys) keys, \(fixed(options.durationSeconds, 0)) s after \(fixed(options.warmupSeconds, 0)) s warm-up")
    print("throughput  \(fixed(rate, 0)) ops/s (ok \(fixed(okRate, 0))/s)")
    print("latency ms  p50 \(fixed(latency.p50))  p90 \(fixed(latency.p90))  p99 \(fixed(latency.p99))  p99.9 \(fixed(latency.p999))  max \(fixed(latency.max))")
    if !summary.errors.isEmpty {
        print("errors      " + summary.errors.keys.sorted().map { "\($0) \(summary.errors[$0]!)" }.joined(separator: ", "))
    }
}
