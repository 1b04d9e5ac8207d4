import JSONText
import KVWire
import RaftCore
import ClusterTransport
import NodeHosting
import Observability
import RuntimeSupport

/// Pause and step (every node in one process): stop the timers, hold every Raft message, then
/// deliver, drop and tick by hand; resume delivers what is held and restarts the timers. Client
/// deadlines are suspended while paused.
extension AdminHandler {
    func step(_ request: AdminRequest, _ reply: AdminReply) {
        if let refusal = runtime.pauseAndStepRefusal { return reply.error(.badRequest, refusal) }
        switch request {
        case .pause:
            if !switchboard.isPaused {
                switchboard.pause()
                router.clock.pause()
                for host in registry.localHosts { host.setTicking(false) }
                events.log(.warning, "paused: timers stopped, Raft messages held, client deadlines suspended")
            }
            reply.ok([("paused", .bool(true))])
        case .resume:
            let held = switchboard.heldMessages.count
            if switchboard.isPaused {
                for host in registry.localHosts { host.setTicking(true) }
                switchboard.resume()
                router.clock.resume()
                events.log("resumed: \(held) held message\(held == 1 ? "" : "s") delivered, timers running")
            }
            reply.ok([("paused", .bool(false)), ("delivered", .int(held))])
        case .messages:
            reply.ok([("paused", .bool(switchboard.isPaused)), ("messages", .array(switchboard.heldMessages.map(HeldMessage.json)))])
        case .deliver(let message):
            guard let delivered = switchboard.deliverHeld(message) else {
                return reply.error(.badRequest, message.map { "no held message \($0)" } ?? "no message is held")
            }
            events.log(node: delivered.envelope.to, "delivered by hand: message \(delivered.id), \(delivered.envelope)")
            reply.ok([("message", HeldMessage.json(delivered))])
        case .drop(let message):
            guard let dropped = switchboard.dropHeld(message) else { return reply.error(.badRequest, "no held message \(message)") }
            events.log(node: dropped.envelope.to, "dropped by hand: message \(dropped.id), \(dropped.envelope)")
            reply.ok([("message", HeldMessage.json(dropped))])
        case .tick(let node, let count):
            guard let host = registry.host(node) else { return reply.error(.badRequest, "node \(node) does not exist") }
            host.tick(count: count) { running in
                if running {
                    reply.ok([("node", .int(node)), ("ticks", .int(count))])
                } else {
                    reply.error(.unavailable, "node \(node) is down")
                }
            }
        default:
            reply.error(.badRequest, "not a pause-and-step request")
        }
    }
}
