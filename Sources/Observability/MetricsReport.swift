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

    /// The Prometheus text exposition format (version 0.0.4).
    public func prometheusText() -> String {
        var text = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: Int)]) {
            text += "# HELP raftkv_\(name) \(help)\n# TYPE raftkv_\(name) \(type)\n"
            for sample in samples {
                text += "raftkv_\(name)\(sample.labels.isEmpty ? "" : "{\(sample.labels)}") \(sample.value)\n"
            }
        }
        let statuses = registry.statuses
        let perNode = statuses.map { ($0, registry.metrics(of: $0.id) ?? NodeMetrics()) }
        func nodeSamples(_ value: (NodeStatus, NodeMetrics) -> Int) -> [(labels: String, value: Int)] {
            perNode.map { ("node=\"\($0.0.id)\"", value($0.0, $0.1)) }
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
        family("elections_started_total", "counter", "Elections started (after a successful pre-vote).", nodeSamples { $1.electionsStarted })
        family("elections_won_total", "counter", "Elections won.", nodeSamples { $1.electionsWon })
        family("proposals_total", "counter", "Client commands appended as leader.", nodeSamples { $1.proposals })
        family("entries_committed_total", "counter", "Log entries applied.", nodeSamples { $1.entriesCommitted })
        family("appends_sent_total", "counter", "AppendEntries messages sent.", nodeSamples { $1.appendsSent })
        family("appends_rejected_total", "counter", "AppendEntries refusals received.", nodeSamples { $1.appendsRejected })
        family("fsyncs_total", "counter", "Log syncs to disk.", nodeSamples { $1.fsyncs })
        family("fsync_latency_p99_microseconds", "gauge", "p99 of recent log syncs.", nodeSamples { $1.fsyncLatency.percentiles.p99 })
        for (name, help, samples) in [
            ("write_queue", "waiting for the flush that appends it", \NodeMetrics.writeQueue),
            ("write_local", "its append and fsync at the leader", \NodeMetrics.writeLocal),
            ("write_replication", "from durable at the leader to committed and applied", \NodeMetrics.writeCommit),
        ] as [(String, String, KeyPath<NodeMetrics, LatencySamples>)] {
            text += "# HELP raftkv_\(name)_microseconds A write's time \(help), recent writes.\n# TYPE raftkv_\(name)_microseconds gauge\n"
            for (status, metrics) in perNode {
                let figures = metrics[keyPath: samples].percentiles
                for (quantile, value) in [("0.5", figures.p50), ("0.99", figures.p99), ("1", figures.max)] {
                    text += "raftkv_\(name)_microseconds{node=\"\(status.id)\",quantile=\"\(quantile)\"} \(value)\n"
                }
            }
        }
        family("requests_total", "counter", "Client requests by op and outcome.",
               server.requestCounts.map { ("op=\"\($0.op)\",outcome=\"\($0.outcome)\"", $0.count) })
        family("open_connections", "gauge", "Client connections open now.", [("", server.openConnections)])
        let watches = server.watchFigures
        family("watches", "gauge", "Watches open now (line protocol and HTTP).", [("", watches.open)])
        family("watch_events_sent_total", "counter", "Events sent to watchers.", [("", watches.eventsSent)])
        family("slow_watchers_cut_total", "counter", "Watches stopped because their client read too slowly.", [("", watches.slowCut)])
        return text
    }

    private func number(_ value: Int) -> JSONValue { .number(String(value)) }

    private func percentiles(_ figures: (p50: Int, p90: Int, p99: Int, max: Int)) -> JSONValue {
        .object(JSONObject([("p50", number(figures.p50)), ("p90", number(figures.p90)), ("p99", number(figures.p99)),
                            ("max", number(figures.max))]))
    }
}
