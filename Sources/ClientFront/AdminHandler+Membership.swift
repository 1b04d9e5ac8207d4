import Dispatch
import JSONText
import KVWire
import RaftCore
import RaftEngine
import ClusterTransport
import NodeHosting
import Observability
import RuntimeSupport

/// add, remove and transfer. Each runs where the leader is (passed there when it runs in another
/// member), retries while leadership moves or a new leader has not committed an entry of its term
/// yet, and answers once the change is committed — `busy` when another change is in progress.
extension AdminHandler {
    /// Membership changes may wait for a learner to catch up: longer than a client request.
    var membershipDeadline: UInt64 { router.clock.now() + UInt64(max(settings.requestTimeoutMs, 60_000)) * 1_000_000 }
    var transferDeadline: UInt64 { router.clock.now() + UInt64(max(settings.requestTimeoutMs, 5_000)) * 1_000_000 }

    /// Another change in progress: an uncommitted configuration, or a learner awaiting promotion
    /// (other than `node`, which may be asked for again).
    func changeInProgress(except node: NodeID) -> String? {
        guard let current = registry.configuration else { return nil }
        if !current.committed { return "the configuration change at entry \(current.index) is not committed yet" }
        if let learner = current.configuration.members.first(where: { $0.promoteWhenCaughtUp && $0.id != node }) {
            return "node \(learner.id) is still catching up as a learner before it becomes a voter"
        }
        return nil
    }

    /// Runs `body` where the leader is, or passes the request to the leader's member, or answers
    /// `unavailable` once `deadline` passes with no leader.
    func atLeader(_ request: AdminRequest, _ reply: AdminReply, hops: Int, deadline: UInt64,
                  _ body: @escaping @Sendable (NodeHost) -> Void) {
        poll(until: deadline, {
            guard let leader = self.registry.leader else { return false }
            let place = self.router.whereIs(leader, hops: hops)
            if let host = place.local {
                body(host)
            } else if place.remote {
                self.router.forward(.admin(request), to: leader, id: reply.id, hops: hops, deadline: deadline,
                                    onFailure: { _ in reply.error(.unavailable, "the leader's member cannot be reached") },
                                    respond: reply.respond)
            } else {
                return false
            }
            return true
        }, expired: { reply.error(.unavailable, "no leader within the timeout; nothing was changed") })
    }

    func add(node: Int, addresses: MemberAddressFields, _ reply: AdminReply, hops: Int) {
        guard node >= 0 && node <= ClusterRegistry.maxNodeID else {
            return reply.error(.badRequest, "node ids are 0 to \(ClusterRegistry.maxNodeID)")
        }
        if let current = registry.configuration?.configuration, current.isVoter(node) {
            return reply.ok([("members", membersJSON())])  // already in: asking again is harmless
        }
        if let busy = changeInProgress(except: node) { return reply.error(.busy, busy) }
        if let refusal = runtime.refusalToAdd(node, addresses: addresses) { return reply.error(.badRequest, refusal) }
        let deadline = membershipDeadline
        let context = MemberAddresses(raft: addresses.raft, client: addresses.client, http: addresses.http).context
        atLeader(.add(node: node, addresses: addresses), reply, hops: hops, deadline: deadline) { leader in
            self.runtime.willAdd(node)
            self.propose(.addLearner(id: node, context: context, promoteWhenCaughtUp: true), at: leader, reply, deadline: deadline,
                         done: { $0.isVoter(node) && !$0.members.contains { $0.promoteWhenCaughtUp } }) { outcome in
                self.runtime.finishedAdding(node, succeeded: outcome)
            }
        }
    }

    func remove(node: Int, _ reply: AdminReply, hops: Int) {
        guard let current = registry.configuration?.configuration, current.contains(node) else {
            return reply.ok([("members", membersJSON())])  // not a member: nothing to do
        }
        if let busy = changeInProgress(except: -1) { return reply.error(.busy, busy) }
        let deadline = membershipDeadline
        atLeader(.remove(node: node), reply, hops: hops, deadline: deadline) { leader in
            if leader.id == node {
                // Leadership moves first: the leader never removes itself.
                self.moveLeadership(away: leader, reply, deadline: deadline) {
                    self.remove(node: node, reply, hops: hops)
                }
                return
            }
            self.propose(.remove(id: node), at: leader, reply, deadline: deadline, done: { !$0.contains(node) }) { succeeded in
                if succeeded { self.runtime.removed(node) }
            }
        }
    }

    /// Appends `change` at `leader`, then answers once a committed configuration satisfies
    /// `done`. Retries while the leader is not ready; answers `busy` for a change in progress.
    private func propose(_ change: ConfigurationChange, at leader: NodeHost, _ reply: AdminReply, deadline: UInt64,
                         done: @escaping @Sendable (ClusterConfiguration) -> Bool,
                         finished: @escaping @Sendable (Bool) -> Void) {
        leader.withEngine { engine in
            guard let engine else { return self.retry(change, reply, deadline: deadline, done: done, finished: finished) }
            switch engine.proposeConfigurationChange(change) {
            case .success(let appended):
                self.events.log(node: leader.id, "membership change requested: \(change) (entry \(appended.index))")
                self.awaitCommitted(reply, deadline: deadline, done: done, finished: finished)
            case .failure(.changeInProgress(let index)):
                finished(false)
                reply.error(.busy, "the configuration change at entry \(index) is not committed yet; nothing was changed")
            case .failure(.leaderNotReady), .failure(.notLeader), .failure(.removingLeader):
                self.retry(change, reply, deadline: deadline, done: done, finished: finished)
            case .failure(.invalid(let reason)):
                if done(engine.raft.configuration) {
                    self.awaitCommitted(reply, deadline: deadline, done: done, finished: finished)
                } else {
                    finished(false)
                    reply.error(.badRequest, reason)
                }
            }
        }
    }

    private func retry(_ change: ConfigurationChange, _ reply: AdminReply, deadline: UInt64,
                       done: @escaping @Sendable (ClusterConfiguration) -> Bool, finished: @escaping @Sendable (Bool) -> Void) {
        guard router.clock.now() < deadline else {
            finished(false)
            return reply.error(.unavailable, "no leader could make the change within the timeout; nothing was changed")
        }
        router.retryQueue.asyncAfter(deadline: .now() + .milliseconds(20)) {
            self.poll(until: deadline, {
                guard let leader = self.registry.leader, let host = self.registry.host(leader) else { return false }
                self.propose(change, at: host, reply, deadline: deadline, done: done, finished: finished)
                return true
            }, expired: {
                finished(false)
                reply.error(.unavailable, "no leader within the timeout; nothing was changed")
            })
        }
    }

    /// Waits until the cluster's committed configuration satisfies `done`.
    private func awaitCommitted(_ reply: AdminReply, deadline: UInt64, done: @escaping @Sendable (ClusterConfiguration) -> Bool,
                                finished: @escaping @Sendable (Bool) -> Void) {
        poll(until: deadline, {
            guard let current = self.registry.configuration, current.committed, done(current.configuration) else { return false }
            finished(true)
            reply.ok([("members", self.membersJSON())])
            return true
        }, expired: {
            finished(false)
            reply.error(.timeout, "the change is in the log but not complete within the timeout (a learner may still be catching up); it may still complete")
        })
    }

    func transfer(to node: Int, _ reply: AdminReply, hops: Int) {
        guard let current = registry.configuration?.configuration, current.isVoter(node) else {
            return reply.error(.badRequest, "node \(node) is not a voter of the current configuration")
        }
        if registry.leader == node { return reply.ok([("leader", .int(node))]) }
        let deadline = transferDeadline
        atLeader(.transfer(node: node), reply, hops: hops, deadline: deadline) { leader in
            self.startTransfer(from: leader, to: node, reply, deadline: deadline) {
                reply.ok([("leader", .int(node))])
            }
        }
    }

    /// Hands leadership from `leader` to `target` and calls `then` once `target` leads.
    private func startTransfer(from leader: NodeHost, to target: NodeID, _ reply: AdminReply, deadline: UInt64,
                               then: @escaping @Sendable () -> Void) {
        leader.withEngine { engine in
            guard let engine else { return reply.error(.unavailable, "the leader went down") }
            switch engine.transferLeadership(to: target) {
            case .success:
                self.poll(until: deadline, {
                    guard self.registry.leader == target else { return false }
                    then()
                    return true
                }, expired: { reply.error(.unavailable, "node \(target) did not take over within the timeout") })
            case .failure(.alreadyLeader):
                then()
            case .failure(let error):
                reply.error(.badRequest, "\(error)")
            }
        }
    }

    /// Moves leadership from `leader` to the voter that is furthest along, then runs `then`.
    private func moveLeadership(away leader: NodeHost, _ reply: AdminReply, deadline: UInt64,
                                then: @escaping @Sendable () -> Void) {
        guard let status = registry.status(of: leader.id) else { return reply.error(.unavailable, "the leader went down") }
        let voters = status.configuration.voters.filter { $0 != leader.id }
        let candidates = status.replication.filter { voters.contains($0.id) }.sorted { $0.match > $1.match }
        guard let target = candidates.first?.id ?? voters.first else {
            return reply.error(.badRequest, "node \(leader.id) is the only voter; add another before removing it")
        }
        events.log(node: leader.id, "leads and is being removed: handing leadership to node \(target) first")
        startTransfer(from: leader, to: target, reply, deadline: deadline, then: then)
    }
}
