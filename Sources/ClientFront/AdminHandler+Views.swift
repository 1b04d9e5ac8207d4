import JSONText
import KVWire
import RaftCore
import RaftStorage
import ClusterTransport
import NodeHosting
import Observability
import RuntimeSupport

/// What admin requests show: the cluster status, the members, a node's log, a snapshot.
extension AdminHandler {
    func statusResponse(id: JSONValue?) -> String {
        ClientResponse.adminOK(statusMembers(), id: id)
    }

    /// The members of the status answer: the contract's `leader` and `nodes` (each node with the
    /// contract's fields first), then this server's additions.
    public func statusMembers() -> [(String, JSONValue)] {
        let now = MonotonicClock.now()
        let statuses = registry.statuses
        let ids = statuses.map(\.id)
        let current = registry.configuration
        let nodes: [JSONValue] = statuses.map { status in
            var members: [(key: String, value: JSONValue)] = [
                ("id", .int(status.id)),
                ("role", .string(status.role)),
                ("term", .int(status.term)),
                ("votedFor", status.votedFor.map(JSONValue.int) ?? .null),
                ("commitIndex", .int(status.commitIndex)),
                ("lastApplied", .int(status.lastApplied)),
                ("logLength", .int(status.logLength)),
                ("alive", .bool(status.alive)),
                ("snapshotIndex", .int(status.snapshotIndex)),
                ("entriesInLog", .int(status.entriesInLog)),
                ("leaderId", status.leaderID.map(JSONValue.int) ?? .null),
                ("voter", .bool(current?.configuration.isVoter(status.id) ?? status.isVoter)),
                ("member", .bool(current?.configuration.contains(status.id) ?? status.isMember)),
                ("partitioned", .bool(switchboard.isPartitioned(status.id, among: ids))),
                ("slowMs", .int(switchboard.slowDelay(of: status.id))),
                ("local", .bool(registry.host(status.id) != nil)),
            ]
            if status.alive {
                members.append(("revision", .number(String(status.storeRevision))))
                members.append(("keys", .int(status.keyCount)))
                members.append(("sessions", .int(status.sessionCount)))
                members.append(("leases", .int(status.leaseCount)))
            }
            if status.alive {
                members.append(("electionElapsed", .int(status.electionElapsed)))
                members.append(("electionTimeout", .int(status.electionTimeout)))
            }
            if status.alive && status.lastLeaderContact > 0 {
                members.append(("msSinceLeaderContact", .int(Int((now - min(now, status.lastLeaderContact)) / 1_000_000))))
            }
            if let disk = status.diskFault { members.append(("disk", .string(disk))) }
            if let failure = status.failure { members.append(("failure", .string(failure))) }
            if let transferee = status.transferee { members.append(("transferringTo", .int(transferee))) }
            if !status.replication.isEmpty {
                members.append(("replication", .array(status.replication.map { peer in
                    .object(JSONObject([("id", .int(peer.id)), ("match", .int(peer.match)), ("next", .int(peer.next)),
                                        ("state", .string(peer.state))]))
                })))
            }
            return .object(JSONObject(members))
        }
        var result: [(String, JSONValue)] = [("leader", registry.leader.map(JSONValue.int) ?? .null), ("nodes", .array(nodes))]
        if let current {
            result.append(("configuration", .object(JSONObject([
                ("voters", .array(current.configuration.voters.map(JSONValue.int))),
                ("learners", .array(current.configuration.learners.map(JSONValue.int))),
                ("index", .int(current.index)), ("committed", .bool(current.committed)),
            ]))))
        }
        result.append(("paused", .bool(switchboard.isPaused)))
        let slowMotion = router.slowMotion.load(ordering: .relaxed)
        result.append(("slowMotion", .int(slowMotion)))
        result.append(("tickMs", .int(settings.tickMs * slowMotion)))
        if switchboard.isPaused { result.append(("heldMessages", .int(switchboard.heldMessages.count))) }
        if let groups = switchboard.partitionGroups {
            result.append(("partition", .array(groups.map { .array($0.map(JSONValue.int)) })))
        }
        result.append(("mode", .string(runtime.modeName)))
        return result
    }

    /// `{"status":"ok","members":[{"id","voter","raft","client","http"}...]}`.
    public func membersJSON() -> JSONValue {
        let configuration = registry.configuration?.configuration ?? .empty
        return .array(configuration.members.map { member in
            var fields: [(key: String, value: JSONValue)] = [("id", .int(member.id)), ("voter", .bool(member.isVoter))]
            if member.promoteWhenCaughtUp { fields.append(("promoting", .bool(true))) }
            let addresses = registry.addresses(of: member.id) ?? MemberAddresses(context: member.context)
            if let raft = addresses?.raft { fields.append(("raft", .string(raft))) }
            if let client = addresses?.client { fields.append(("client", .string(client))) }
            if let http = addresses?.http { fields.append(("http", .string(http))) }
            return .object(JSONObject(fields))
        })
    }

    func members(_ reply: AdminReply, hops: Int) {
        reply.ok([("members", membersJSON())])
    }

    func logs(node requested: Int, count: Int, _ reply: AdminReply, hops: Int) {
        var chosen = requested
        if requested == -1 {  // the client's "the leader's log"
            guard let leader = registry.leader else {
                return reply.error(.unavailable, "there is no leader right now; name a node")
            }
            chosen = leader
        }
        let node = chosen
        guard let host = registry.host(node) else {
            if router.whereIs(node, hops: hops).remote {
                return router.forward(.admin(.logs(node: node, count: count)), to: node, id: reply.id, hops: hops,
                                      deadline: router.deadline,
                                      onFailure: { _ in reply.error(.unavailable, "node \(node)'s member cannot be reached") },
                                      respond: reply.respond)
            }
            return reply.error(.badRequest, "node \(node) does not exist")
        }
        host.recentEntries(count) { result in
            switch result {
            case .success(let entries):
                reply.ok([("node", .int(node)), ("entries", .array(entries.map(Self.entryJSON)))])
            case .failure(let error):
                reply.error(.unavailable, "cannot read the log of node \(node): \(error)")
            }
        }
    }

    static func entryJSON(_ entry: Entry) -> JSONValue {
        let command: JSONValue
        if let configuration = entry.configuration {
            command = ConfigurationCodec.json(configuration)
        } else {
            command = entry.isNoop ? .null : ((try? JSONParser.parse(entry.data)) ?? .string(entry.data))
        }
        return .object(JSONObject([("index", .int(entry.index)), ("term", .int(entry.term)), ("command", command)]))
    }

    func snapshot(node: Int, _ reply: AdminReply) {
        guard let host = registry.host(node) else { return reply.error(.badRequest, "node \(node) does not exist") }
        host.snapshotNow { result in
            switch result {
            case .success(let index): reply.ok([("index", .int(index))])
            case .failure(let failure): reply.error(.unavailable, "node \(node) cannot take a snapshot: \(failure)")
            }
        }
    }
}
