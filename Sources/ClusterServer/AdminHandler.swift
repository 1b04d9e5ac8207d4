import Dispatch
import JSONText
import KVWire
import RaftCore

/// The admin requests of the contract: status, kill, restart, partition, heal, slow, logs
/// (snapshot and metrics answer a clear error until their features land). Refused with
/// `forbidden` unless admin is enabled.
public final class AdminHandler: Sendable {
    let registry: ClusterRegistry
    let enabled: Bool
    let events: EventLog
    let metricsReport: MetricsReport

    init(registry: ClusterRegistry, enabled: Bool, events: EventLog, metrics: ServerMetrics) {
        self.registry = registry
        self.enabled = enabled
        self.events = events
        self.metricsReport = MetricsReport(registry: registry, server: metrics)
    }

    func handle(_ request: AdminRequest, id: JSONValue?, respond: @escaping @Sendable (String) -> Void) {
        guard enabled else {
            return respond(ClientResponse.error(RequestError(.forbidden, "admin requests are disabled (admin.enabled is false)"), id: id))
        }
        func badNode(_ node: Int) -> Bool {
            if node >= 0 && node < registry.clusterSize { return false }
            respond(ClientResponse.error(RequestError(.badRequest, "node \(node) does not exist (nodes are 0 to \(registry.clusterSize - 1))"), id: id))
            return true
        }
        switch request {
        case .status:
            respond(statusResponse(id: id))
        case .kill(let node):
            guard !badNode(node) else { return }
            events.log(.warning, node: node, "kill requested")
            registry.host(node).kill { respond(ClientResponse.adminOK(id: id)) }
        case .restart(let node):
            guard !badNode(node) else { return }
            events.log(node: node, "restart requested")
            registry.host(node).restart { failure in
                if let failure {
                    respond(ClientResponse.error(RequestError(.unavailable, "node \(node) stays down: \(failure)"), id: id))
                } else {
                    respond(ClientResponse.adminOK(id: id))
                }
            }
        case .partition(let groups):
            for node in groups.joined() where badNode(node) { return }
            let flat = Array(groups.joined())
            if Set(flat).count != flat.count {
                return respond(ClientResponse.error(RequestError(.badRequest, "a node appears in more than one group"), id: id))
            }
            registry.setPartition(groups)
            events.log(.warning, "partition applied: \(registry.partitionGroups.map { $0.map(String.init).joined(separator: ",") }.joined(separator: " | "))")
            respond(ClientResponse.adminOK(id: id))
        case .isolate(let node):
            guard !badNode(node) else { return }
            registry.setPartition([[node], (0..<registry.clusterSize).filter { $0 != node }])
            events.log(.warning, node: node, "isolated: it can reach no other node")
            respond(ClientResponse.adminOK(id: id))
        case .heal:
            registry.heal()
            events.log("healed: every partition and message delay removed")
            respond(ClientResponse.adminOK(id: id))
        case .slow(let node, let delayMs):
            guard !badNode(node) else { return }
            registry.setSlow(node: node, delayMs: delayMs)
            events.log(.warning, node: node, delayMs > 0 ? "every message to and from this node now waits \(delayMs) ms" : "message delay removed")
            respond(ClientResponse.adminOK(id: id))
        case .logs(let requested, let count):
            var chosen = requested
            if requested == -1 {  // the client's "the leader's log"
                guard let leader = registry.leader else {
                    return respond(ClientResponse.error(RequestError(.unavailable, "there is no leader right now; name a node"), id: id))
                }
                chosen = leader
            }
            let node = chosen
            guard !badNode(node) else { return }
            registry.host(node).recentEntries(count) { result in
                switch result {
                case .success(let entries):
                    respond(ClientResponse.adminOK([("node", .number(String(node))), ("entries", .array(entries.map(Self.entryJSON)))], id: id))
                case .failure(let error):
                    respond(ClientResponse.error(RequestError(.unavailable, "cannot read the log of node \(node): \(error)"), id: id))
                }
            }
        case .snapshot(let node):
            guard !badNode(node) else { return }
            registry.host(node).snapshotNow { result in
                switch result {
                case .success(let index):
                    respond(ClientResponse.adminOK([("index", .number(String(index)))], id: id))
                case .failure(let failure):
                    respond(ClientResponse.error(RequestError(.unavailable, "node \(node) cannot take a snapshot: \(failure)"), id: id))
                }
            }
        case .metrics(let prometheus):
            respond(prometheus ? metricsReport.prometheusResponse(id: id) : metricsReport.jsonResponse(id: id))
        }
    }

    static func entryJSON(_ entry: Entry) -> JSONValue {
        let command: JSONValue = entry.isNoop ? .null : ((try? JSONParser.parse(entry.data)) ?? .string(entry.data))
        return .object(JSONObject([("index", .number(String(entry.index))), ("term", .number(String(entry.term))),
                                   ("command", command)]))
    }

    func statusResponse(id: JSONValue?) -> String {
        let now = MonotonicClock.now()
        let groups = registry.partitionGroups
        let slow = registry.slowDelays
        let nodes: [JSONValue] = registry.statuses.map { status in
            var members: [(key: String, value: JSONValue)] = [
                ("id", .number(String(status.id))),
                ("role", .string(status.role)),
                ("term", .number(String(status.term))),
                ("votedFor", status.votedFor.map { .number(String($0)) } ?? .null),
                ("commitIndex", .number(String(status.commitIndex))),
                ("lastApplied", .number(String(status.lastApplied))),
                ("logLength", .number(String(status.logLength))),
                ("snapshotIndex", .number(String(status.snapshotIndex))),
                ("entriesInLog", .number(String(status.entriesInLog))),
                ("alive", .bool(status.alive)),
                ("leaderId", status.leaderID.map { .number(String($0)) } ?? .null),
                ("partitioned", .bool(groups.count > 1)),
                ("slowMs", .number(String(slow[status.id]))),
            ]
            if status.alive && status.lastLeaderContact > 0 {
                members.append(("msSinceLeaderContact", .number(String((now - min(now, status.lastLeaderContact)) / 1_000_000))))
            }
            if let failure = status.failure { members.append(("failure", .string(failure))) }
            return .object(JSONObject(members))
        }
        let leader: JSONValue = registry.leader.map { .number(String($0)) } ?? .null
        return ClientResponse.adminOK([("leader", leader), ("nodes", .array(nodes))], id: id)
    }
}
