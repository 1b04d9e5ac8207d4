import JSONText
import KVWire
import NodeHosting
import RaftEngine
import ClusterTransport
import RuntimeSupport

/// `{"admin":"metrics"}`: cluster, per-node and client figures as JSON, or in the Prometheus
/// text exposition format with `"format":"prometheus"`.
public struct MetricsReport: Sendable {
    let registry: ClusterRegistry
    let server: ServerMetrics

    public init(registry: ClusterRegistry, server: ServerMetrics) {
        self.registry = registry
        self.server = server
    }

    public func jsonResponse(id: JSONValue?) -> String {
        let statuses = registry.statuses
        let nodes: [JSONValue] = statuses.map { status in
            let metrics = registry.metrics(of: status.id) ?? NodeMetrics()
            let fsync = metrics.fsyncLatency.percentiles
            return .object(JSONObject([
                ("id", number(status.id)), ("alive", .bool(status.alive)), ("role", .string(status.role)),
                ("term", number(status.term)), ("commitIndex", number(status.commitIndex)),
                ("revision", .number(String(status.storeRevision))), ("keys", number(status.keyCount)),
                ("sessions", number(status.sessionCount)), ("leases", number(status.leaseCount)),
                ("leasesExpired", number(status.leasesExpired)),
                ("preElectionsStarted", number(metrics.preElectionsStarted)),
                ("electionsStarted", number(metrics.electionsStarted)), ("electionsWon", number(metrics.electionsWon)),
                ("proposals", number(metrics.proposals)), ("entriesCommitted", number(metrics.entriesCommitted)),
                ("appendsSent", number(metrics.appendsSent)), ("appendsRejected", number(metrics.appendsRejected)),
                ("snapshotsTaken", number(metrics.snapshotsTaken)), ("snapshotsInstalled", number(metrics.snapshotsInstalled)),
                ("fsyncs", number(metrics.fsyncs)),
                ("fsyncLatencyUs", percentiles(fsync)),
                // Where a write's time goes at this node while it leads (recent writes, microseconds).
                ("writePathUs", .object(JSONObject([
                    ("queue", percentiles(metrics.writeQueue.percentiles)),
                    ("localWrite", percentiles(metrics.writeLocal.percentiles)),
                    ("replication", percentiles(metrics.writeCommit.percentiles)),
                ]))),
            ]))
        }
        let requests: [JSONValue] = server.requestCounts.map { entry in
            .object(JSONObject([("op", .string(entry.op)), ("outcome", .string(entry.outcome)), ("count", number(entry.count))]))
        }
        let term = statuses.map(\.term).max() ?? 0
        return ClientResponse.adminOK([
            ("leader", registry.leader.map(number) ?? .null), ("term", number(term)),
            ("openConnections", number(server.openConnections)),
            ("watches", number(server.watchFigures.open)), ("watchEventsSent", number(server.watchFigures.eventsSent)),
            ("slowWatchersCut", number(server.watchFigures.slowCut)),
            ("requests", .array(requests)), ("nodes", .array(nodes)),
        ], id: id)
    }

    public func prometheusResponse(id: JSONValue?) -> String {
        ClientResponse.adminOK([("format", .string("prometheus")), ("text", .string(prometheusText()))], id: id)
    }

    /// The Prometheus text exposition format (version 0.0.4). Counters end in `_total`;
    /// latencies are histograms in seconds (`_bucket{le=…}`, `_sum`, `_count`); the process's own
    /// figures are the standard `process_*` metrics.
    public func prometheusText() -> String {
        var text = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: Int)]) {
            text += "# HELP raftkv_\(name) \(help)\n# TYPE raftkv_\(name) \(type)\n"
            for sample in samples {
                text += "raftkv_\(name)\(sample.labels.isEmpty ? "" : "{\(sample.labels)}") \(sample.value)\n"
            }
        }
        func histograms(_ name: String, _ help: String, _ series: [(labels: String, histogram: Histogram)]) {
            text += "# HELP raftkv_\(name) \(help)\n# TYPE raftkv_\(name) histogram\n"
            for (labels, histogram) in series {
                text += Self.histogramLines("raftkv_\(name)", labels: labels, histogram)
            }
        }
        let statuses = registry.statuses
        let perNode = statuses.map { ($0, registry.metrics(of: $0.id) ?? NodeMetrics()) }
        func nodeSamples(_ value: (NodeStatus, NodeMetrics) -> Int) -> [(labels: String, value: Int)] {
            perNode.map { ("node=\"\($0.0.id)\"", value($0.0, $0.1)) }
        }
        func nodeHistograms(_ histogram: (NodeMetrics) -> Histogram) -> [(labels: String, histogram: Histogram)] {
            perNode.map { ("node=\"\($0.0.id)\"", histogram($0.1)) }
        }
        family("term", "gauge", "Current term of each node.", nodeSamples { status, _ in status.term })
        family("is_leader", "gauge", "1 for the node that leads.", nodeSamples { status, _ in status.role == "leader" ? 1 : 0 })
        family("up", "gauge", "1 while the node runs.", nodeSamples { status, _ in status.alive ? 1 : 0 })
        family("commit_index", "gauge", "Commit index of each node.", nodeSamples { status, _ in status.commitIndex })
        family("store_revision", "gauge", "The store's revision as each node has applied it.", nodeSamples { status, _ in Int(status.storeRevision) })
        family("keys", "gauge", "Keys each node's store holds.", nodeSamples { status, _ in status.keyCount })
        family("client_sessions", "gauge", "Client sessions (exactly-once writes) each node's store remembers.",
               nodeSamples { status, _ in status.sessionCount })
        family("leases", "gauge", "Leases each node's store holds.", nodeSamples { status, _ in status.leaseCount })
        family("leases_expired_total", "counter", "Leases a node ended as leader because no keepalive came in time.",
               nodeSamples { status, _ in status.leasesExpired })
        family("pre_elections_started_total", "counter", "Pre-votes started (an election that may not follow).",
               nodeSamples { $1.preElectionsStarted })
        family("elections_started_total", "counter", "Elections started (after a successful pre-vote).", nodeSamples { $1.electionsStarted })
        family("elections_won_total", "counter", "Elections won.", nodeSamples { $1.electionsWon })
        family("proposals_total", "counter", "Client commands appended as leader.", nodeSamples { $1.proposals })
        family("entries_committed_total", "counter", "Log entries applied.", nodeSamples { $1.entriesCommitted })
        family("appends_sent_total", "counter", "AppendEntries messages sent.", nodeSamples { $1.appendsSent })
        family("appends_rejected_total", "counter", "AppendEntries refusals received.", nodeSamples { $1.appendsRejected })
        family("snapshots_taken_total", "counter", "Snapshots a node took of its own state.", nodeSamples { $1.snapshotsTaken })
        family("snapshots_installed_total", "counter", "Snapshots a node loaded from its leader.", nodeSamples { $1.snapshotsInstalled })
        family("fsyncs_total", "counter", "Log syncs to disk.", nodeSamples { $1.fsyncs })
        family("slow_writes_total", "counter", "Writes to disk slower than the heartbeat interval.", nodeSamples { $1.slowWrites })
        histograms("fsync_duration_seconds", "Time to make one batch of a node's writes durable (log append, meta, snapshot file, fsync).",
                   nodeHistograms { $0.fsyncLatency.histogram })
        var stages: [(labels: String, histogram: Histogram)] = []
        for (stage, samples) in [("queue", \NodeMetrics.writeQueue), ("local_write", \NodeMetrics.writeLocal),
                                 ("replication", \NodeMetrics.writeCommit)] as [(String, KeyPath<NodeMetrics, LatencySamples>)] {
            for (status, metrics) in perNode {
                stages.append(("node=\"\(status.id)\",stage=\"\(stage)\"", metrics[keyPath: samples].histogram))
            }
        }
        histograms("write_stage_duration_seconds",
                   "Where a write's time goes at the leader: queue (waiting for the flush that appends it), local_write (its append and fsync there), replication (from durable at the leader to committed and applied).",
                   stages)
        histograms("snapshot_duration_seconds", "Snapshots a node took: from freezing the state to the log cut.",
                   nodeHistograms { $0.snapshotDuration })
        histograms("snapshot_install_duration_seconds", "Snapshots a follower loaded from its leader while catching up.",
                   nodeHistograms { $0.snapshotInstallDuration })
        histograms("state_load_duration_seconds", "Building a node's state from its snapshot file after a start, in the background.",
                   nodeHistograms { $0.stateLoadDuration })
        histograms("snapshot_thread_hold_seconds",
                   "Stretches of a node's own thread spent on snapshot work (starting, finishing, swapping in a loaded state, cutting the log); the serializing and loading run elsewhere.",
                   nodeHistograms { $0.snapshotThreadHold })
        family("requests_total", "counter", "Client requests by op and outcome.",
               server.requestCounts.map { ("op=\"\($0.op)\",outcome=\"\($0.outcome)\"", $0.count) })
        histograms("request_duration_seconds", "Client requests from arrival at this server to the answer, by op.",
                   server.requestLatencies.map { ("op=\"\($0.op)\"", $0.histogram) })
        family("open_connections", "gauge", "Client connections open now.", [("", server.openConnections)])
        let watches = server.watchFigures
        family("watches", "gauge", "Watches open now (line protocol and HTTP).", [("", watches.open)])
        family("watch_events_sent_total", "counter", "Events sent to watchers.", [("", watches.eventsSent)])
        family("slow_watchers_cut_total", "counter", "Watches stopped because their client read too slowly.", [("", watches.slowCut)])
        text += Self.processLines(ProcessFigures.current())
        return text
    }

    /// One histogram's `_bucket` lines (cumulative, `le` in seconds, ending with `+Inf`), `_sum` and `_count`.
    static func histogramLines(_ name: String, labels: String, _ histogram: Histogram) -> String {
        var text = ""
        let prefix = labels.isEmpty ? "" : labels + ","
        let cumulative = histogram.cumulativeCounts
        for (index, bound) in Histogram.boundsMicroseconds.enumerated() {
            text += "\(name)_bucket{\(prefix)le=\"\(seconds(microseconds: bound))\"} \(cumulative[index])\n"
        }
        let total = cumulative.last ?? 0
        text += "\(name)_bucket{\(prefix)le=\"+Inf\"} \(total)\n"
        let braces = labels.isEmpty ? "" : "{\(labels)}"
        text += "\(name)_sum\(braces) \(seconds(microseconds: histogram.sumMicroseconds))\n"
        text += "\(name)_count\(braces) \(total)\n"
        return text
    }

    /// The standard process metrics (names as every Prometheus client library exports them).
    static func processLines(_ figures: ProcessFigures) -> String {
        var text = ""
        for (name, type, help, value) in [
            ("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", figures.cpuSeconds),
            ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", figures.residentMemoryBytes),
            ("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", figures.virtualMemoryBytes),
            ("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", figures.startTimeSeconds),
            ("process_open_fds", "gauge", "Number of open file descriptors.", figures.openFileDescriptors),
            ("process_max_fds", "gauge", "Maximum number of open file descriptors.", figures.maxFileDescriptors),
        ] as [(String, String, String, Double?)] {
            guard let value else { continue }
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(decimal(value))\n"
        }
        return text
    }

    /// Microseconds as seconds, exactly, in plain decimal ("0.00005", "2.5", "60").
    static func seconds(microseconds: Int) -> String {
        let sign = microseconds < 0 ? "-" : ""
        let magnitude = microseconds.magnitude
        let whole = magnitude / 1_000_000, fraction = magnitude % 1_000_000
        guard fraction > 0 else { return sign + String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 6 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return sign + String(whole) + "." + digits
    }

    /// A sample value: whole numbers without a fraction, others as Swift prints a Double.
    static func decimal(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 9_007_199_254_740_992 { return String(Int64(value)) }
        return value.isFinite ? String(describing: value) : (value.isNaN ? "NaN" : (value > 0 ? "+Inf" : "-Inf"))
    }

    private func number(_ value: Int) -> JSONValue { .number(String(value)) }

    private func percentiles(_ figures: (p50: Int, p90: Int, p99: Int, max: Int)) -> JSONValue {
        .object(JSONObject([("p50", number(figures.p50)), ("p90", number(figures.p90)), ("p99", number(figures.p99)),
                            ("max", number(figures.max))]))
    }
}
