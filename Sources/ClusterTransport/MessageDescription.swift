import JSONText
import RaftCore
import NodeHosting
import RuntimeSupport

extension HeldMessage {
    /// A held message as `messages` lists it: id, from, to, type, term, then what it carries.
    public static func json(_ held: HeldMessage) -> JSONValue {
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
public enum MessageKind: String, Sendable {
    case appendEntries, heartbeat, appendResponse, requestVote, preVote, voteResponse, preVoteResponse
    case installSnapshot, snapshotResponse, timeoutNow, readIndex, readIndexResponse

    public static func of(_ message: Message) -> MessageKind {
        switch message {
        case .appendRequest(let request): return request.entries.isEmpty ? .heartbeat : .appendEntries
        case .appendResponse: return .appendResponse
        case .voteRequest(let request): return request.preVote ? .preVote : .requestVote
        case .voteResponse(let response): return response.preVote ? .preVoteResponse : .voteResponse
        case .snapshotRequest: return .installSnapshot
        case .snapshotResponse: return .snapshotResponse
        case .timeoutNow: return .timeoutNow
        case .readIndexRequest: return .readIndex
        case .readIndexResponse: return .readIndexResponse
        }
    }

    public static func details(_ message: Message) -> [(key: String, value: JSONValue)] {
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
        case .readIndexRequest(let request):
            return [("reads", .int(request.ids.count))]
        case .readIndexResponse(let response):
            return [("index", .int(response.index)), ("reads", .int(response.ids.count))]
        }
    }
}
