import JSONText
import KVWire
import RaftCore

/// Pause and step (every node in one process): stop the timers, hold every Raft message, then
/// deliver, drop and tick by hand; resume delivers what is held and restarts the timers. Client
/// deadlines are suspended while paused.
extension AdminHandler {
    func step(_ request: AdminRequest, _ reply: AdminReply) {
        guard server.memberID == nil else {
            return reply.error(.badRequest, "pause and step work when every node runs in one process; this member runs node \(server.memberID!) alone")
        }
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
            reply.ok([("paused", .bool(switchboard.isPaused)), ("messages", .array(switchboard.heldMessages.map(Self.heldJSON)))])
        case .deliver(let message):
            guard let delivered = switchboard.deliverHeld(message) else {
                return reply.error(.badRequest, message.map { "no held message \($0)" } ?? "no message is held")
            }
            events.log(node: delivered.envelope.to, "delivered by hand: message \(delivered.id), \(delivered.envelope)")
            reply.ok([("message", Self.heldJSON(delivered))])
        case .drop(let message):
            guard let dropped = switchboard.dropHeld(message) else { return reply.error(.badRequest, "no held message \(message)") }
            events.log(node: dropped.envelope.to, "dropped by hand: message \(dropped.id), \(dropped.envelope)")
            reply.ok([("message", Self.heldJSON(dropped))])
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

    /// A held message as `messages` lists it: id, from, to, type, term, then what it carries.
    static func heldJSON(_ held: HeldMessage) -> JSONValue {
        let envelope = held.envelope
        var fields: [(key: String, value: JSONValue)] = [
            ("id", .int(held.id)), ("from", .int(envelope.from)), ("to", .int(envelope.to)),
            ("type", .string(MessageKind.of(envelope.message).rawValue)), ("term", .int(envelope.term)),
        ]
        fields.append(contentsOf: MessageKind.details(envelope.message))
        fields.append(("summary", .string(envelope.description)))
        return .object(JSONObject(fields))
    }
}

/// Names and details of Raft messages for people and pages.
enum MessageKind: String {
    case appendEntries, heartbeat, appendResponse, requestVote, preVote, voteResponse, preVoteResponse
    case installSnapshot, snapshotResponse, timeoutNow

    static func of(_ message: Message) -> MessageKind {
        switch message {
        case .appendRequest(let request): return request.entries.isEmpty ? .heartbeat : .appendEntries
        case .appendResponse: return .appendResponse
        case .voteRequest(let request): return request.preVote ? .preVote : .requestVote
        case .voteResponse(let response): return response.preVote ? .preVoteResponse : .voteResponse
        case .snapshotRequest: return .installSnapshot
        case .snapshotResponse: return .snapshotResponse
        case .timeoutNow: return .timeoutNow
        }
    }

    static func details(_ message: Message) -> [(key: String, value: JSONValue)] {
        switch message {
        case .appendRequest(let request):
            var fields: [(key: String, value: JSONValue)] = [
                ("prevLogIndex", .int(request.prevLogIndex)), ("prevLogTerm", .int(request.prevLogTerm)),
                ("entries", .int(request.entries.count)), ("leaderCommit", .int(request.leaderCommit)),
            ]
            if let first = request.entries.first { fields.append(("firstIndex", .int(first.index))) }
            return fields
        case .appendResponse(let response):
            return [("success", .bool(response.success)), ("matchIndex", .int(response.matchIndex))]
        case .voteRequest(let request):
            return [("lastLogIndex", .int(request.lastLogIndex)), ("lastLogTerm", .int(request.lastLogTerm))]
        case .voteResponse(let response):
            return [("granted", .bool(response.granted))]
        case .snapshotRequest(let chunk):
            return [("index", .int(chunk.index)), ("offset", .int(chunk.offset)), ("bytes", .int(chunk.data.count)),
                    ("done", .bool(chunk.done))]
        case .snapshotResponse(let response):
            return [("index", .int(response.index)), ("received", .int(response.received))]
        case .timeoutNow:
            return []
        }
    }
}
