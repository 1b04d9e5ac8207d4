import ClientFront
import ClusterTransport
import Dispatch
import NodeHosting
import KVStore
import LinCheck
import RaftCore
import RaftEngine
import RuntimeSupport
import Synchronization

extension Scenario {
    // MARK: - Minority partition

    static let minorityPartition = Scenario(
        name: "minority-partition", title: "a leader cut off with a minority cannot commit",
        needs: "one process, 3 or more nodes", minimumNodes: 3, exactNodes: nil
    ) { d, s in
        let old = s.leader
        let minority = [old] + s.followers.prefix((s.nodes.count - 1) / 2 - 1)
        let majority = s.nodes.filter { !minority.contains($0) }
        d.say("the network splits: \(ScenarioDriver.names(minority)) | \(ScenarioDriver.names(majority))")
        try d.request(.partition(groups: [minority, majority]))
        try d.propose(at: old, .put(key: "scenario/minority", value: "written on the minority side"))
        d.settle()
        try d.replicate(from: old, among: minority, heartbeat: false)
        try d.replicate(from: old, among: minority)
        let stranded = try d.running(old)
        let entry = stranded.log.lastIndex
        try check(stranded.isLeader && stranded.commitIndex < entry, "node \(old) committed entry \(entry) without a majority")
        d.say("node \(old) still believes it leads term \(s.term); it appended entry \(entry), but only \(minority.count) of \(s.nodes.count) nodes have it: no majority, so its commit index stays at \(stranded.commitIndex)")
        let successor = majority[0]
        for node in majority.dropFirst() { try d.forgetLeader(node) }
        let term = try d.elect(successor, voters: Array(majority.dropFirst()))
        try d.propose(at: successor, .put(key: "scenario/majority", value: "written on the majority side"))
        d.settle()
        try d.replicate(from: successor, among: majority, heartbeat: false)
        let winner = try d.running(successor)
        try check(winner.commitIndex == winner.log.lastIndex, "the majority did not commit")
        d.say("the majority elected node \(successor) in term \(term) and committed entry \(winner.log.lastIndex) there")
        d.say("the network heals: node \(old) hears of term \(term), steps down, and its uncommitted entry \(entry) is replaced")
        try d.request(.heal)
        try d.replicate(from: successor, among: s.nodes)
        let back = try d.running(old)
        let leader = try d.running(successor)
        try check(back.roleKind == .follower && back.leaderID == successor, "node \(old) did not step down")
        try check(back.log.term(at: entry) != s.term && back.log.lastIndex == leader.log.lastIndex,
                  "node \(old)'s entry \(entry) of term \(s.term) was not replaced")
        let lost = try d.machine(old) { $0?.get("scenario/minority") }
        let kept = try d.machine(old) { $0?.get("scenario/majority") }
        try check(lost == nil && kept != nil, "node \(old)'s store does not show the majority's history")
        return "node \(old), leader of term \(s.term) cut off with \(minority.count) of \(s.nodes.count) nodes, never committed its entry \(entry) (its commit stayed at \(stranded.commitIndex)); the majority elected node \(successor) in term \(term) and committed; after healing node \(old) follows node \(successor) and its entry \(entry) was replaced"
    }

    // MARK: - Figure 8

    /// The Raft paper's Figure 8 (§5.4.2) on the real store, with S1…S5 the stage's leader and
    /// its followers. The paper's S1 replicates only the old entry in (c); a leader here sends its
    /// new no-op along with it — unless the old entry is too big to share a message (a 4 MiB
    /// value: an AppendEntries carries at most 4 MiB beyond its first entry), which is how S1
    /// gets the old entry alone onto S3 and S4 and counts a majority of copies of it.
    static let figure8 = Scenario(
        name: "figure8", title: "the Raft paper's Figure 8: an old term's entry on a majority is still overwritten",
        needs: "one process, exactly 5 nodes", minimumNodes: 5, exactNodes: 5
    ) { d, s in
        let servers = [s.leader] + s.followers
        let s1 = servers[0], s2 = servers[1], s3 = servers[2], s4 = servers[3], s5 = servers[4]
        func name(_ node: NodeID) -> String { "S\(servers.firstIndex(of: node)! + 1) (node \(node))" }
        let k = s.commit + 1, t = s.term
        d.say("the servers: " + servers.map(name).joined(separator: ", "))
        // (a)
        d.say("(a) \(name(s1)) leads term \(t); a client writes figure8/x (4 MiB) at entry \(k); only \(name(s2)) receives it")
        try d.propose(at: s1, .put(key: "figure8/x", value: String(repeating: "x", count: 4_200_000)))
        d.settle()
        for message in d.held(from: s1, [.appendEntries]) {
            if message.envelope.to == s2 { try d.deliver(message) } else { try d.drop(message) }
        }
        try d.deliverAll { $0.envelope.from == s2 && $0.envelope.to == s1 }
        // (b)
        try d.kill(s1)
        d.say("(b) \(name(s1)) crashed; \(name(s5)) times out and is elected in term \(t + 1) by \(name(s3)), \(name(s4)) and itself")
        for node in [s2, s3, s4] { try d.forgetLeader(node) }
        try d.elect(s5, voters: [s3, s4])
        d.say("(b) \(name(s5)) appends its own entry \(k) in term \(t + 1) (its no-op), then crashes before sending it")
        try d.dropAll()
        try d.kill(s5)
        // (c)
        try d.restart(s1)
        d.say("(c) \(name(s5)) crashed; \(name(s1)) restarted and is elected in term \(t + 2) by \(name(s2)), \(name(s3)) and \(name(s4))")
        try d.elect(s1, voters: [s2, s3, s4])
        try d.dropAll { $0.envelope.to == s2 || $0.envelope.to == s5 }
        d.say("(c) \(name(s1)) appends its no-op \(k + 1) in term \(t + 2) and continues replication: \(name(s3)) and \(name(s4)) refuse (they lack entry \(k)); \(name(s1)) backs off and sends them entry \(k) of term \(t) — alone, it is too big to share a message")
        // Phase by phase, only what is held at the time: the probes (refused), the refusals, entry k
        // alone, the acknowledgements. The no-op k + 1 that S1 sends next stays held.
        func toFollowers() -> [HeldMessage] { d.held(from: s1, [.appendEntries]).filter { [s3, s4].contains($0.envelope.to) } }
        func answers() -> [HeldMessage] { d.held(to: s1, [.appendResponse]).filter { [s3, s4].contains($0.envelope.from) } }
        for message in toFollowers() { try d.deliver(message) }
        for message in answers() { try d.deliver(message) }
        for message in toFollowers() {
            guard case .appendRequest(let request) = message.envelope.message, request.prevLogIndex < k else { continue }
            try d.deliver(message)
        }
        for message in answers() { try d.deliver(message) }
        let leader = try d.running(s1)
        var holders: [NodeID] = []
        for node in [s1, s2, s3, s4, s5] {
            if let core = try d.core(node), core.log.term(at: k) == t { holders.append(node) }
        }
        let known = leader.replicationStatus.filter { $0.match >= k }.map(\.id) + [s1]
        d.say("(c) entry \(k) of term \(t) is on \(holders.count) of 5 servers — a majority — and \(name(s1)) knows of \(known.count) copies; yet its commit index stays at \(leader.commitIndex): a leader counts replicas only for entries of its own term (§5.4.2), and its entry \(k + 1) of term \(t + 2) is on \(name(s1)) alone")
        try check(leader.isLeader && leader.term == t + 2 && holders.count >= 3 && known.count >= 3 && leader.commitIndex < k,
                  "(c) did not show an uncommitted old-term entry on a majority: holders \(holders), counted \(known), commit \(leader.commitIndex)")
        try d.dropAll()
        // (d)
        try d.kill(s1)
        d.say("(d) \(name(s1)) crashed; \(name(s5)) restarts and is elected in term \(t + 3) by \(name(s2)), \(name(s3)) and \(name(s4)): its last entry (\(k), term \(t + 1)) is newer than theirs (\(k), term \(t))")
        try d.restart(s5)
        for node in [s2, s3, s4] { try d.forgetLeader(node) }
        let term = try d.elect(s5, voters: [s2, s3, s4])
        d.say("(d) \(name(s5)) replicates: its entry \(k) of term \(t + 1) overwrites entry \(k) of term \(t) on \(name(s2)), \(name(s3)) and \(name(s4))")
        try d.replicate(from: s5, among: [s2, s3, s4, s5])
        let winner = try d.running(s5)
        for node in [s2, s3, s4] {
            let core = try d.running(node)
            try check(core.log.term(at: k) == t + 1 && core.commitIndex >= k,
                      "(d) \(name(node))'s entry \(k) has term \(core.log.term(at: k) ?? -1), not \(t + 1), or is not committed")
            let value = try d.machine(node) { $0?.get("figure8/x") }
            try check(value == nil, "(d) \(name(node)) applied figure8/x")
        }
        try check(winner.isLeader && term == t + 3 && winner.commitIndex > k, "(d) \(name(s5)) did not commit")
        return "Figure 8: entry \(k) of term \(t) stood on \(holders.count) of 5 servers and \(name(s1)), leader of term \(t + 2), counted \(known.count) copies, yet did not commit it — it commits only entries of its own term by counting replicas (§5.4.2); \(name(s5)) then won term \(t + 3) and overwrote entry \(k) with its own (term \(t + 1)) on S2, S3 and S4 and committed it. Had S1 committed the old entry, a committed entry would have been lost."
    }

    // MARK: - Stale read

    static let staleRead = Scenario(
        name: "stale-read", title: "a stale read by a deposed leader (unsafeLocalReads), caught by the linearizability checker",
        needs: "one process, 3 or more nodes, \"unsafeLocalReads\": true in the config", minimumNodes: 3, exactNodes: nil,
        refusal: { admin in
            admin.router.unsafeLocalReads ? nil
                : "stale-read needs a server started with \"unsafeLocalReads\": true in its config (a node that believes it leads then answers linearizable reads from its own state, without asking a quorum — unsafe on purpose); this server's reads are safe, so a deposed leader's read would wait for a quorum it cannot reach"
        }
    ) { d, s in
        let old = s.leader, successor = s.followers[0], others = Array(s.followers.dropFirst())
        let key = "scenario/stale"
        let history = Mutex<[KVOperation]>([])
        func finished(_ id: Int, _ kind: KVOperation.Kind, _ call: UInt64, _ outcome: KVOperation.Outcome) {
            let operation = KVOperation(id: id, client: id, key: key, kind: kind, call: call, response: MonotonicClock.now(), outcome: outcome)
            history.withLock { $0.append(operation) }
        }
        func write(_ id: Int, at node: NodeID, _ value: String, among nodes: [NodeID]) throws {
            let call = MonotonicClock.now()
            let answered = Mutex(false)
            try d.host(node).propose(.put(key: key, value: value), waiter: RecordingWriter { outcome in
                if case .applied = outcome { answered.withLock { $0 = true } }
            })
            d.settle()
            try d.replicate(from: node, among: nodes, heartbeat: false)
            try check(answered.withLock { $0 }, "the write of \(value) at node \(node) was not answered")
            finished(id, .put(value), call, .ok(nil))
        }
        try write(1, at: old, "v1", among: s.nodes)
        d.say("a client writes \(key) = v1 at node \(old); it commits and is acknowledged")
        d.say("the network splits: node \(old) alone | \(ScenarioDriver.names(s.followers))")
        try d.request(.partition(groups: [[old], s.followers]))
        for node in others { try d.forgetLeader(node) }
        let term = try d.elect(successor, voters: others)
        try d.replicate(from: successor, among: s.followers)
        try write(2, at: successor, "v2", among: s.followers)
        d.say("the majority elected node \(successor) in term \(term); a client writes \(key) = v2 there; it commits and is acknowledged")
        let call = MonotonicClock.now()
        let host = try d.host(old)
        let read: String?? = d.wait { done in host.readLinearizable { machine in done(machine.map { $0.get(key) }) } }
        guard let served = read else { throw ScenarioFailure("node \(old) did not serve the read") }
        finished(3, .get, call, .ok(served))
        d.say("a client asks node \(old) — deposed, but cut off and still sure it leads term \(s.term) — for a linearizable read of \(key): with unsafeLocalReads it answers from its own state: \(served ?? "nothing")")
        try check(served == "v1", "no stale read: node \(old) answered \(served ?? "nothing") (is unsafeLocalReads on?)")
        let operations = history.withLock { $0 }
        let result = LinearizabilityChecker.check(operations, timeLimitSeconds: 10, clock: { MonotonicClock.now() })
        guard case .violation(_, let minimal) = result.verdict else {
            throw ScenarioFailure("the linearizability checker did not catch the stale read: \(result.verdict)")
        }
        d.say("the linearizability checker rejects the history: \(minimal.map(\.summary).joined(separator: "; "))")
        d.say("the network heals; node \(old) hears of term \(term) and steps down")
        try d.request(.heal)
        try d.replicate(from: successor, among: s.nodes)
        return "node \(old), deposed by node \(successor) (term \(term)) but cut off, answered a linearizable read of \(key) with v1 after v2 had been committed and acknowledged; the linearizability checker rejects the history (\(minimal.count) operations cannot be ordered): a stale read"
    }
}

/// A scenario's write whose outcome the scenario looks at.
final class RecordingWriter: WriteWaiter {
    let done: @Sendable (WriteOutcome<KVResult>) -> Void
    init(_ done: @escaping @Sendable (WriteOutcome<KVResult>) -> Void) { self.done = done }
    func appended() {}
    func finish(_ outcome: WriteOutcome<KVResult>) { done(outcome) }
}
