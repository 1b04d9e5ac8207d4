import JSONText
import KVWire
import RaftCore
import ClusterTransport
import NodeHosting
import Observability
import RuntimeSupport

/// Faults a class can cause: crash and restart a node, cut or slow the network, break a disk.
extension AdminHandler {
    func kill(node: Int, loseUnsynced: Bool, _ reply: AdminReply) {
        guard let host = registry.host(node) else { return reply.error(.badRequest, "node \(node) does not exist") }
        if loseUnsynced {
            guard host.disk != nil else {
                return reply.error(.badRequest, "node \(node)'s storage keeps no record of synced bytes (in-memory storage)")
            }
            events.log(.warning, node: node, "power cut requested: crash, then lose every byte not fsynced")
        } else {
            events.log(.warning, node: node, "kill requested")
        }
        host.kill(reason: loseUnsynced ? "power cut" : "killed", loseUnsynced: loseUnsynced) { reply.ok() }
    }

    func restart(node: Int, _ reply: AdminReply) {
        guard let host = registry.host(node) else { return reply.error(.badRequest, "node \(node) does not exist") }
        events.log(node: node, "restart requested")
        host.restart { failure in
            if let failure {
                reply.error(.unavailable, "node \(node) stays down: \(failure)")
            } else {
                reply.ok()
            }
        }
    }

    /// partition, isolate, slow, heal: cluster-wide. Applied here, and passed to every other
    /// member when this is where the request arrived (`broadcast`).
    func networkSwitch(_ request: AdminRequest, _ reply: AdminReply, broadcast: Bool) {
        let known = Set(registry.statuses.map(\.id))
        func unknown(_ node: Int) -> Bool {
            if known.contains(node) { return false }
            reply.error(.badRequest, "node \(node) does not exist (nodes: \(known.sorted().map(String.init).joined(separator: ", ")))")
            return true
        }
        switch request {
        case .partition(let groups):
            for node in groups.joined() where unknown(node) { return }
            let flat = Array(groups.joined())
            if Set(flat).count != flat.count {
                return reply.error(.badRequest, "a node appears in more than one group")
            }
            switchboard.setPartition(groups)
            let alone = known.subtracting(flat).sorted()
            let text = groups.map { $0.map(String.init).joined(separator: ",") }.joined(separator: " | ")
            events.log(.warning, "partition applied: \(text)\(alone.isEmpty ? "" : " (alone: \(alone.map(String.init).joined(separator: ", ")))")")
        case .isolate(let node):
            guard !unknown(node) else { return }
            switchboard.setPartition([[node], known.filter { $0 != node }.sorted()])
            events.log(.warning, node: node, "isolated: it can reach no other node")
        case .slow(let node, let delayMs):
            guard !unknown(node) else { return }
            switchboard.setSlow(node: node, delayMs: delayMs)
            events.log(.warning, node: node, delayMs > 0 ? "every message to and from this node now waits \(delayMs) ms" : "message delay removed")
        case .slowMotion(let factor):
            router.slowMotion.store(factor, ordering: .relaxed)
            for host in registry.localHosts { host.setTickScale(factor) }
            events.log(.warning, factor == 1 ? "slow motion off: normal speed" : "slow motion: every timer and client deadline \(factor) times longer")
        case .heal:
            switchboard.heal()
            for host in registry.localHosts {
                host.disk?.heal()
                host.diskHealed()
            }
            events.log("healed: every partition, message delay and disk fault removed")
        default:
            return
        }
        if broadcast { runtime.broadcast(request) }
        for host in registry.localHosts { host.withEngine { _ in } }  // republish status with the new switches
        reply.ok()
    }

    func disk(node: Int, fault: DiskFault, _ reply: AdminReply) {
        guard let host = registry.host(node) else { return reply.error(.badRequest, "node \(node) does not exist") }
        guard let disk = host.disk else {
            return reply.error(.badRequest, "node \(node)'s storage cannot be made to fail (in-memory storage)")
        }
        switch fault {
        case .slow(let ms):
            disk.slowSyncMs = ms
            events.log(.warning, node: node, ms > 0 ? "disk made slow: every fsync takes \(ms) ms longer" : "disk speed restored")
        case .full:
            disk.full = true
            events.log(.warning, node: node, "disk made full: every write now fails with ENOSPC")
        case .none:
            disk.heal()
            events.log(node: node, "disk faults cleared")
            host.diskHealed()
        }
        host.withEngine { _ in }  // republish status with the fault
        reply.ok()
    }
}
