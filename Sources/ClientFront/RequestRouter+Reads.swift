import Dispatch
import JSONText
import KVStore
import KVWire
import NodeHosting
import RaftCore

/// Reads: gets and ranges, eventual (a random follower's applied state) or linearizable
/// (ReadIndex at the leader). A get is answered on the node's queue; a range freezes the state
/// there (one reference) and is gathered and written on another thread, so a 10,000-key page
/// never holds a node.
extension RequestRouter {
    /// Serves a read from `machine` (on the node's queue); `respond` gets the answer line.
    package func serve(_ request: ClientRequest, from machine: KVStateMachine, id: JSONValue?, respond: @escaping @Sendable (String) -> Void) {
        switch request.operation {
        case .get(let key, _):
            respond(readAnswer(key: key, record: machine.record(key), revision: machine.revision, revisions: request.revisions, id: id))
        case .range(let query):
            let state = machine.freeze()
            let metrics = self.metrics
            Self.rangeQueue.async {
                metrics.countRequest(op: "range", outcome: "ok")
                respond(Answers.range(state.page(query), query: query, revision: state.revision, id: id))
            }
        default:
            respond(ClientResponse.error(RequestError(.badRequest, "not a read"), id: id))
        }
    }

    /// Where ranges are gathered and written.
    static let rangeQueue = DispatchQueue(label: "raft.ranges", qos: .userInitiated, attributes: .concurrent)

    /// The answer to a get that found `record` (nil: no such key), counted in the metrics.
    func readAnswer(key: String, record: KeyRecord?, revision: Int64, revisions: Bool, id: JSONValue?) -> String {
        metrics.countRequest(op: "get", outcome: record == nil ? "not_found" : "ok")
        if revisions {
            return ClientResponse.withRevisions(key: key, value: record?.value, meta: record.map(Answers.revisions), revision: revision,
                                                found: record != nil, id: id)
        }
        if let record { return ClientResponse.ok(key: key, value: record.value, id: id) }
        return ClientResponse.notFound(key: key, id: id)
    }

    func unavailable(_ message: String, key: String?, op: String, id: JSONValue?) -> String {
        metrics.countRequest(op: op, outcome: "unavailable")
        return ClientResponse.error(RequestError(.unavailable, message), key: key, id: id)
    }

    /// An eventual read from a random live follower's applied state (any live node if none).
    package func read(_ request: ClientRequest, id: JSONValue?, deadline: UInt64, respond: @escaping @Sendable (String) -> Void) {
        guard let node = registry.pickReadNode(), let host = registry.host(node) else {
            if clock.now() >= deadline {
                return respond(unavailable("no node is up to serve the read", key: request.key, op: request.opName, id: id))
            }
            retryQueue.asyncAfter(deadline: .now() + .milliseconds(10)) {
                self.read(request, id: id, deadline: deadline, respond: respond)
            }
            return
        }
        host.withMachine { machine in
            guard let machine else { return self.read(request, id: id, deadline: deadline, respond: respond) }
            self.serve(request, from: machine, id: id, respond: respond)
        }
    }

    /// ReadIndex: at the leader when it runs here; with one node per process, at this member's
    /// own node, which asks the leader's member only for the read point and serves the read from
    /// its state once it has applied that far (a leader of an older build, which cannot answer
    /// that, is sent the whole request instead). Retried until the deadline. Never answered from
    /// state that a leader did not confirm with a quorum (unless the unsafe switch is on).
    func linearizableRead(_ request: ClientRequest, id: JSONValue?, hops: Int, deadline: UInt64,
                          respond: @escaping @Sendable (String) -> Void) {
        let retry: @Sendable (Int) -> Void = { ms in
            self.retryQueue.asyncAfter(deadline: .now() + .milliseconds(ms)) {
                self.linearizableRead(request, id: id, hops: hops, deadline: deadline, respond: respond)
            }
        }
        guard clock.now() < deadline else {
            return respond(unavailable("no leader could confirm a quorum within the request timeout", key: request.key,
                                       op: request.opName, id: id))
        }
        guard let leader = unsafeLocalReads ? registry.anySelfProclaimedLeader : registry.leader else { return retry(10) }
        let place = whereIs(leader, hops: hops)
        if let host = place.local ?? (unsafeLocalReads ? nil : registry.followerReadNode.flatMap(registry.host)) {
            host.readLinearizable { machine in
                guard let machine else { return retry(5) }
                self.serve(request, from: machine, id: id, respond: respond)
            }
        } else if place.remote {
            forward(request, to: leader, id: id, hops: hops, deadline: deadline, onFailure: { _ in retry(20) }, respond: respond)
        } else {
            retry(10)
        }
    }
}
