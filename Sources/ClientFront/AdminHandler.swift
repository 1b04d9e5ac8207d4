import Dispatch
import JSONText
import KVWire
import RaftCore
import ClusterTransport
import NodeHosting
import Observability
import RuntimeSupport
import Synchronization

/// The admin requests: views (status, members, logs, metrics), faults (kill, restart, partition,
/// isolate, slow, heal, disk, crash), membership (add, remove, transfer), pause and step. Refused
/// with `forbidden` unless admin is enabled. A request about a node that runs in another member's
/// process is passed to that member; cluster-wide switches are passed to every member.
public final class AdminHandler: Sendable {
    package let registry: ClusterRegistry
    package let switchboard: Switchboard
    package let events: EventLog
    package let router: RequestRouter
    let settings: AdminSettings
    let metricsReport: MetricsReport
    package let runtime: RuntimeControl
    /// Time travel on this server's own recordings, and the notes they cannot show.
    public let replays = ReplayLibrary()
    /// The guided scenarios (`{"admin":"scenario"}`). They drive this handler, so they live in
    /// GuidedScenarios, above this module, and the composition root attaches them.
    private let scenarios = Mutex<(any ScenarioRunning)?>(nil)
    var enabled: Bool { settings.enabled }

    public init(registry: ClusterRegistry, switchboard: Switchboard, router: RequestRouter, events: EventLog,
                metricsReport: MetricsReport, settings: AdminSettings, runtime: RuntimeControl) {
        self.registry = registry
        self.switchboard = switchboard
        self.router = router
        self.events = events
        self.metricsReport = metricsReport
        self.settings = settings
        self.runtime = runtime
    }

    package func attach(scenarios runner: any ScenarioRunning) {
        scenarios.withLock { $0 = runner }
    }

    package func handle(_ request: AdminRequest, id: JSONValue?, hops: Int, respond: @escaping @Sendable (String) -> Void) {
        guard enabled else {
            return respond(ClientResponse.error(RequestError(.forbidden, "admin requests are disabled (admin.enabled is false)"), id: id))
        }
        let reply = AdminReply(id: id, respond: respond)
        replays.noteAdmin(request, held: request.isDrop ? switchboard.heldMessages : [])
        if let node = request.targetNode {
            guard node >= 0 && node <= ClusterRegistry.maxNodeID else {
                return reply.error(.badRequest, "node \(node) does not exist (node ids are 0 to \(ClusterRegistry.maxNodeID))")
            }
            if registry.host(node) == nil {
                // Served where the node runs.
                let place = router.whereIs(node, hops: hops)
                if place.remote {
                    return router.forward(.admin(request), to: node, id: id, hops: hops, deadline: router.deadline,
                                          onFailure: { _ in reply.error(.unavailable, "node \(node)'s member cannot be reached") },
                                          respond: respond)
                }
                let known = registry.localIDs.map(String.init).joined(separator: ", ")
                return reply.error(.badRequest, "node \(node) does not exist (nodes here: \(known.isEmpty ? "none" : known))")
            }
        }
        switch request {
        case .status: respond(statusResponse(id: id))
        case .members: members(reply, hops: hops)
        case .metrics(let prometheus):
            respond(prometheus ? metricsReport.prometheusResponse(id: id) : metricsReport.jsonResponse(id: id))
        case .logs(let node, let count): logs(node: node, count: count, reply, hops: hops)
        case .snapshot(let node): snapshot(node: node, reply)
        case .kill(let node): kill(node: node, loseUnsynced: false, reply)
        case .crash(let node, let loseUnsynced): kill(node: node, loseUnsynced: loseUnsynced, reply)
        case .restart(let node): restart(node: node, reply)
        case .partition, .isolate, .slow, .heal, .slowMotion: networkSwitch(request, reply, broadcast: hops == 0)
        case .disk(let node, let fault): disk(node: node, fault: fault, reply)
        case .add(let node, let addresses): add(node: node, addresses: addresses, reply, hops: hops)
        case .remove(let node): remove(node: node, reply, hops: hops)
        case .transfer(let node): transfer(to: node, reply, hops: hops)
        case .pause, .messages, .deliver, .drop, .tick, .resume: step(request, reply)
        case .trace(let node): trace(node: node, reply, hops: hops)
        case .backup(let path): backup(path: path, reply, hops: hops)
        case .scenario(let name):
            guard let runner = scenarios.withLock({ $0 }) else { return reply.error(.unavailable, "this server has no guided scenarios") }
            runner.scenario(name, admin: self, reply)
        }
    }

    /// Re-checks `condition` every 20 ms until it gives an answer or `deadline` (running time)
    /// passes; then `expired` runs.
    func poll(until deadline: UInt64, every milliseconds: Int = 20, _ condition: @escaping @Sendable () -> Bool,
              expired: @escaping @Sendable () -> Void) {
        if condition() { return }
        guard router.clock.now() < deadline else { return expired() }
        router.retryQueue.asyncAfter(deadline: .now() + .milliseconds(milliseconds)) {
            self.poll(until: deadline, every: milliseconds, condition, expired: expired)
        }
    }
}

/// Runs `{"admin":"scenario","name":N}` for an admin handler: GuidedScenarios' runner.
package protocol ScenarioRunning: Sendable {
    func scenario(_ name: String, admin: AdminHandler, _ reply: AdminReply)
}

/// Answers one admin request exactly as the contract shapes them.
package struct AdminReply: Sendable {
    let id: JSONValue?
    let respond: @Sendable (String) -> Void

    package func ok(_ members: [(String, JSONValue)] = []) {
        respond(ClientResponse.adminOK(members, id: id))
    }

    package func error(_ code: ErrorCode, _ message: String) {
        respond(ClientResponse.error(RequestError(code, message), id: id))
    }
}
