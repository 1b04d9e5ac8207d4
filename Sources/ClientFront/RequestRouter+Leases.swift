import Dispatch
import JSONText
import KVWire
import NodeHosting

/// Keepalives and lease information: served by the leader, which keeps the leases' time.
extension RequestRouter {
    func atLeader(_ request: ClientRequest, id: JSONValue?, hops: Int, deadline: UInt64, respond: @escaping @Sendable (String) -> Void) {
        let retry: @Sendable (Int) -> Void = { ms in
            self.retryQueue.asyncAfter(deadline: .now() + .milliseconds(ms)) {
                self.atLeader(request, id: id, hops: hops, deadline: deadline, respond: respond)
            }
        }
        guard clock.now() < deadline else {
            return respond(unavailable("no leader within the request timeout", key: nil, op: "lease", id: id))
        }
        guard let leader = registry.leader else { return retry(10) }
        let place = whereIs(leader, hops: hops)
        guard let host = place.local else {
            if place.remote {
                return forward(request, to: leader, id: id, hops: hops, deadline: deadline, onFailure: { _ in retry(20) }, respond: respond)
            }
            return retry(10)
        }
        let answer: @Sendable (LeaseAnswer) -> Void = { outcome in
            switch outcome {
            case .notLeader: retry(5)
            case .notFound:
                self.metrics.countRequest(op: "lease", outcome: "not_found")
                respond(ClientResponse.error(RequestError(.notFound, "no such lease (never granted, revoked, or expired)"), id: id))
            case .lease(let ttl, let remaining, let keys):
                self.metrics.countRequest(op: "lease", outcome: "ok")
                respond(Answers.lease(request, ttlMs: ttl, remainingMs: remaining, keys: keys, id: id))
            case .leases(let leases):
                self.metrics.countRequest(op: "lease", outcome: "ok")
                respond(Answers.leases(leases, id: id))
            }
        }
        switch request.operation {
        case .leaseKeepAlive(let lease): host.leaseKeepAlive(lease, reply: answer)
        case .leaseInfo(let lease): host.leaseInfo(lease, reply: answer)
        case .leaseList: host.leaseList(reply: answer)
        default: respond(ClientResponse.error(RequestError(.badRequest, "not a lease request"), id: id))
        }
    }
}
