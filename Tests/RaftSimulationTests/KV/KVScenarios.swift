import KVStore
import KVWire
import RaftCore
import RaftEngine
import Testing

/// What a client hears back from one proposal.
final class KVAnswer {
    var outcome: WriteOutcome<KVApplied>?
    var result: KVResult? {
        if case .applied(let applied)? = outcome { return applied.result }
        return nil
    }
}

extension Simulation where Machine == KVSimMachine {
    static var epoch: Int64 { 1_700_000_000_000 }

    /// Proposes `command` at `node` as its client front would: encoded, and stamped with the
    /// leader's time (`time`, in milliseconds) and session timeout when it carries a session.
    @discardableResult
    func proposeKV(_ command: KVCommand, at node: NodeID, time: Int64 = epoch, sessionTimeoutSeconds: Int64 = 3600,
                   answer: KVAnswer = KVAnswer()) -> ProposalResult? {
        let text = command.encoded
        let stamped = KVCommand.needsLogTime(text)
            ? KVCommand.stamped(text, time: time, sessionTimeoutSeconds: sessionTimeoutSeconds) : text
        return propose(at: node, stamped) { answer.outcome = $0 }
    }

    /// Proposes at `node` and runs until the answer comes; returns it.
    func answer(_ command: KVCommand, at node: NodeID, time: Int64 = epoch, sessionTimeoutSeconds: Int64 = 3600,
                withinTicks ticks: Int = 100) -> KVResult? {
        let answer = KVAnswer()
        proposeKV(command, at: node, time: time, sessionTimeoutSeconds: sessionTimeoutSeconds, answer: answer)
        run(upTo: ticks) { _ in answer.outcome != nil }
        return answer.result
    }

    func machine(_ node: NodeID) -> KVSimMachine? { nodes[node].engine?.machine }

    /// Runs until every node in `nodes` has applied through `index`.
    func awaitApplied(through index: LogIndex, on nodes: [NodeID], withinTicks ticks: Int = 300) -> Bool {
        run(upTo: ticks) { cluster in nodes.allSatisfy { (cluster.machine($0)?.appliedIndex ?? 0) >= index } }
    }

    /// The committed entries that carry `client`'s `seq`.
    func committedCopies(client: String, seq: Int64) -> Int {
        let mark = "\"client\":\"\(client)\",\"seq\":\(seq),"
        return committedPrefix.filter { $0.data.contains(mark) }.count
    }
}

/// The key-value store under the simulator: exactly-once writes across a leader change, ranges
/// that never see half a transaction, sessions that expire the same way everywhere. Every step of
/// each is checked by the safety checker and the state-machine safety check (all nodes' states
/// equal at every index, snapshots and restored states included).
@Suite struct KVScenarios {
    @Test("a retried cas is applied once across a leader change (exactly-once writes)", arguments: scenarioSeeds)
    func retriedCasAppliedOnce(seed: UInt64) throws {
        let cluster = KVSimCluster(seed: seed, clusterSize: 3)
        let leader = try #require(cluster.awaitStableLeader())
        #expect(cluster.answer(.put(key: "lock/other", value: "x"), at: leader) != nil)

        // A worker takes the lock with a cas; the leader replicates it, then dies before it can answer.
        let take = KVCommand(.cas(key: "lock", expect: nil, value: "worker-1"), session: ClientSession(client: "worker", seq: 1))
        let first = KVAnswer()
        guard case .accepted(let index, let term)? = cluster.proposeKV(take, at: leader, answer: first) else {
            Issue.record("the leader did not take the cas")
            return
        }
        let followers = (0..<3).filter { $0 != leader }
        #expect(cluster.run(upTo: 20) { cluster in followers.contains { cluster.nodes[$0].disk.view.holds(index: index, term: term) } })
        #expect(first.outcome == nil, "the leader answered before it could be stopped")
        cluster.crash(leader)
        guard case .unknown? = first.outcome else {
            Issue.record("the client should not know what became of its cas, but heard \(String(describing: first.outcome))")
            return
        }

        // The client times out and retries the same seq at the new leader: the cas went in once,
        // and the retry gets its answer, not a failed cas.
        let newLeader = try #require(cluster.awaitStableLeader(withinTicks: 200))
        let retried = try #require(cluster.answer(take, at: newLeader))
        guard case .key("lock", let record?, _) = retried else {
            Issue.record("the retried cas was answered \(retried) (applied twice, or lost)")
            return
        }
        #expect(record.value == "worker-1" && record.version == 1)
        #expect(cluster.committedCopies(client: "worker", seq: 1) == 2, "the retry should have gone through the log too")
        // Without the session the same retry is a failed cas: the lock looks taken by someone else.
        let bare = try #require(cluster.answer(KVCommand(.cas(key: "lock", expect: nil, value: "worker-1")), at: newLeader))
        #expect(bare.isCasFailure)
        // And a retry of seq 1 after seq 2 is stale.
        let release = KVCommand(.cas(key: "lock", expect: "worker-1", value: ""), session: ClientSession(client: "worker", seq: 2))
        #expect(cluster.answer(release, at: newLeader).map { !$0.isCasFailure } == true)
        #expect(cluster.answer(take, at: newLeader) == .stale(lastSeq: 2))

        // The old leader comes back and catches up to the same state.
        cluster.restart(leader)
        let commit = try #require(cluster.raft(newLeader)).commitIndex
        #expect(cluster.awaitApplied(through: commit, on: [0, 1, 2]))
        for node in 0..<3 {
            let machine = try #require(cluster.machine(node))
            #expect(machine.store.record("lock")?.version == 2, "node \(node)")
            #expect(machine.store.sessionCount == 1)
        }
        #expect(cluster.stateDigestsCompared > 0)
        #expect(cluster.violation == nil, "\(cluster.violation ?? "")")
    }

    @Test("a range never observes half of a transaction, under faults", arguments: scenarioSeeds)
    func rangesNeverSeeHalfATransaction(seed: UInt64) throws {
        let cluster = KVSimCluster(seed: seed, clusterSize: 5, config: RaftConfig(maxEntriesPerAppend: 2, snapshotChunkBytes: 64))
        cluster.snapshotEvery = 8
        cluster.crashAfterSnapshotRate = 0.1
        cluster.faults = NetworkFaults(dropRate: 0.1, duplicateRate: 0.05, minDelay: 1, maxDelay: 10, longDelayRate: 0.05, longDelay: 100)
        var settings = KVSwarm(seed: seed)
        settings.sessionClients = 1
        settings.sessionShare = 0.05
        settings.pairShare = 0.7
        settings.txnShare = 0.1
        settings.leaseShare = 0.1
        settings.rangeReadRate = 3
        let workload = KVWorkload(settings: settings)
        var swarm = Swarm(seed: seed)
        swarm.proposalsAtLeaderShare = 0.9
        workload.attach(to: cluster, swarm: swarm)
        var number = 0
        for _ in 0..<400 {
            cluster.run(ticks: 1)
            if cluster.violation != nil { break }
            let node = Int.random(in: 0..<5, using: &cluster.randomSource)
            if cluster.chance(0.006) { cluster.crash(cluster.leader ?? node) }
            if cluster.chance(0.01) { cluster.crashDuringNextWrite(node) }
            if cluster.chance(0.05) { cluster.restart(node) }
            if cluster.chance(0.006) { cluster.setPartition([[node], (0..<5).filter { $0 != node }]) }
            if cluster.chance(0.05) { cluster.healPartition() }
            number += 1
            workload.propose(number, in: cluster, swarm: swarm)
            workload.tick(cluster)
            if let leader = cluster.leader, cluster.chance(0.3) { cluster.read(at: leader) }
        }
        #expect(cluster.violation == nil, "\(cluster.violation ?? "") (seed \(seed))")
        cluster.healEverything()
        _ = try #require(cluster.awaitStableLeader(withinTicks: 300))
        #expect(workload.finish(cluster) == nil)
        #expect(workload.pairWrites >= 10, "\(workload.summary)")
        #expect(workload.rangesChecked > 500, "\(workload.summary)")
        #expect(cluster.violation == nil, "\(cluster.violation ?? "") (seed \(seed))")
    }

    @Test("sessions expire by log time, the same way on every node and in snapshots", arguments: scenarioSeeds)
    func sessionsExpireByLogTime(seed: UInt64) throws {
        // No tail of entries kept behind a snapshot: the lagging follower must be sent one.
        let cluster = KVSimCluster(seed: seed, clusterSize: 3, config: RaftConfig(snapshotChunkBytes: 40, snapshotCatchUpEntries: 0))
        cluster.snapshotEvery = 4
        let leader = try #require(cluster.awaitStableLeader())
        let t0 = KVSimCluster.epoch
        func write(_ client: String, _ seq: Int64, _ value: String) -> KVCommand {
            KVCommand(.put(key: "sess/\(client)", value: value, lease: nil), session: ClientSession(client: client, seq: seq))
        }
        let one = try #require(cluster.answer(write("a", 1, "1"), at: leader, time: t0, sessionTimeoutSeconds: 60))
        let two = try #require(cluster.answer(write("a", 2, "2"), at: leader, time: t0 + 1000, sessionTimeoutSeconds: 60))
        #expect(cluster.answer(write("a", 1, "1"), at: leader, time: t0 + 2000, sessionTimeoutSeconds: 60) == .stale(lastSeq: 2))
        #expect(cluster.answer(write("a", 2, "2"), at: leader, time: t0 + 3000, sessionTimeoutSeconds: 60) == two)
        #expect(one != two)

        // One follower misses what follows and will catch up from a snapshot.
        let lagging = (leader + 1) % 3
        cluster.crash(lagging)
        // Log time moves two minutes on (another client's write): a's session, idle for longer
        // than its timeout, is swept — by log time, so on every node at the same entry.
        #expect(cluster.answer(write("b", 1, "1"), at: leader, time: t0 + 125_000, sessionTimeoutSeconds: 60) != nil)
        for number in 0..<12 {
            #expect(cluster.answer(.put(key: "k/\(number)", value: "\(number)"), at: leader) != nil)
        }
        // Forgotten, a's old seq is a new write again, not stale.
        guard case .key(_, let record?, _)? = cluster.answer(write("a", 1, "again"), at: leader, time: t0 + 126_000,
                                                            sessionTimeoutSeconds: 60) else {
            Issue.record("a write of an expired session's old seq should be applied")
            return
        }
        #expect(record.value == "again" && record.version == 3)
        #expect(cluster.run(upTo: 50) { ($0.raft(leader)?.log.snapshotIndex ?? 0) > 8 }, "the leader never compacted")
        cluster.run(ticks: 30)
        cluster.restart(lagging)
        let commit = try #require(cluster.raft(leader)).commitIndex
        #expect(cluster.awaitApplied(through: commit, on: [0, 1, 2]))
        #expect(cluster.snapshotsInstalled >= 1)
        for node in 0..<3 {
            let machine = try #require(cluster.machine(node))
            #expect(machine.store.sessionCount == 2, "node \(node)")
            #expect(machine.store.get("sess/a") == "again")
        }
        #expect(cluster.violation == nil, "\(cluster.violation ?? "")")
    }
}
