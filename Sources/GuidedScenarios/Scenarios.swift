import ClientFront
import ClusterTransport
import KVStore
import RaftCore

/// A guided scenario: it reproduces one situation on the real store, by hand, and ends with a
/// check of what the situation must show (the check's text is the answer).
struct Scenario: Sendable {
    let name: String
    let title: String
    /// What it needs of the cluster.
    let needs: String
    let minimumNodes: Int
    let exactNodes: Int?
    /// Why it cannot run on this server at all (nil: it can), asked before anything is touched.
    var refusal: @Sendable (AdminHandler) -> String? = { _ in nil }
    let run: @Sendable (ScenarioDriver, Stage) throws -> String

    /// Every scenario, in the order the menu shows them.
    static let all: [Scenario] = [leaderCrash, logRepair, splitVote, minorityPartition, figure8, staleRead]

    static func named(_ name: String) -> Scenario? { all.first { $0.name == name } }
}

/// Where every scenario begins (`setStage`): the cluster paused and healed, every node restarted
/// from its files (so that the recording of the scenario begins with each node's state), one
/// leader elected by hand — the node with the most up-to-date log, the lowest id among equals —
/// and every log caught up and committed.
struct Stage: Sendable {
    let nodes: [NodeID]
    let leader: NodeID
    let term: Term
    /// The last index, committed on every node.
    let commit: LogIndex
    var followers: [NodeID] { nodes.filter { $0 != leader } }
}

extension Scenario {
    static func setStage(_ driver: ScenarioDriver, _ scenario: Scenario) throws -> Stage {
        if let refusal = scenario.refusal(driver.admin) { throw ScenarioFailure(refusal) }
        if let refusal = driver.admin.runtime.pauseAndStepRefusal {
            throw ScenarioFailure("scenarios drive pause and step by hand, which this server cannot: \(refusal)")
        }
        let statuses = driver.registry.statuses
        let nodes = statuses.map(\.id).sorted()
        let voters = (driver.registry.configuration?.configuration.voters ?? nodes).sorted()
        guard voters == nodes else {
            throw ScenarioFailure("\(scenario.name) needs every node to be a voter (voters: \(voters), nodes: \(nodes))")
        }
        if let exact = scenario.exactNodes, nodes.count != exact {
            throw ScenarioFailure("\(scenario.name) needs a cluster of exactly \(exact) nodes; this one has \(nodes.count) (start ServerMain --nodes \(exact))")
        }
        guard nodes.count >= scenario.minimumNodes else {
            throw ScenarioFailure("\(scenario.name) needs at least \(scenario.minimumNodes) nodes; this cluster has \(nodes.count) (start ServerMain --nodes \(scenario.minimumNodes))")
        }
        driver.say("— \(scenario.title) — setting the stage: pause, heal the network, restart every node from its files")
        try driver.request(.pause)
        try driver.request(.heal)
        for node in nodes {
            if statuses.first(where: { $0.id == node })?.alive == true { try driver.kill(node) }
            try driver.restart(node)
        }
        let dropped = try driver.dropAll()
        if dropped > 0 { driver.say("dropped \(dropped) message\(dropped == 1 ? "" : "s") held from before") }
        var best: (node: NodeID, term: Term, index: LogIndex)?
        for node in nodes {
            let core = try driver.running(node)
            let candidate = (node, core.log.lastTerm, core.log.lastIndex)
            if best == nil || (candidate.1, candidate.2) > (best!.term, best!.index) { best = candidate }
        }
        let leader = best!.node
        driver.say("node \(leader) has the most up-to-date log (last entry \(best!.index), term \(best!.term)): it is elected by hand")
        try driver.elect(leader, voters: nodes.filter { $0 != leader })
        try driver.replicate(from: leader, among: nodes)
        let core = try driver.running(leader)
        for node in nodes {
            let other = try driver.running(node)
            guard other.log.lastIndex == core.log.lastIndex, other.commitIndex == core.log.lastIndex else {
                throw ScenarioFailure("setting the stage: node \(node) did not catch up (log \(other.log.lastIndex), commit \(other.commitIndex); the leader's log ends at \(core.log.lastIndex))")
            }
        }
        driver.say("the stage: node \(leader) leads term \(core.term); every log holds entries through \(core.log.lastIndex), all committed")
        return Stage(nodes: nodes, leader: leader, term: core.term, commit: core.log.lastIndex)
    }

    static func check(_ condition: Bool, _ text: @autoclosure () -> String) throws {
        if !condition { throw ScenarioFailure(text()) }
    }

    // MARK: - Leader crash and re-election

    static let leaderCrash = Scenario(
        name: "leader-crash", title: "leader crash and re-election",
        needs: "one process, 3 or more nodes (any state: the nodes are restarted first)", minimumNodes: 3, exactNodes: nil
    ) { d, s in
        let old = s.leader, successor = s.followers[0], others = Array(s.followers.dropFirst())
        let key = "scenario/leader-crash"
        try d.propose(at: old, .put(key: key, value: "written in term \(s.term)"))
        d.say("a client writes \(key) at node \(old); it replicates to every node and commits")
        try d.replicate(from: old, among: s.nodes, heartbeat: false)
        let written = try d.running(old).log.lastIndex
        d.say("node \(old), the leader of term \(s.term), crashes")
        try d.kill(old)
        d.say("no more heartbeats: after an election timeout the followers may vote for someone else")
        for node in others { try d.forgetLeader(node) }
        let term = try d.elect(successor, voters: others)
        try d.replicate(from: successor, among: s.followers)
        d.say("node \(old) restarts from its files: it still believes in term \(s.term), and hears from the new leader")
        try d.restart(old)
        try d.replicate(from: successor, among: s.nodes)
        let back = try d.running(old)
        let leader = try d.running(successor)
        try check(leader.isLeader && term > s.term, "node \(successor) does not lead a later term")
        try check(back.roleKind == .follower && back.term == term && back.leaderID == successor,
                  "node \(old) came back as \(ScenarioDriver.roleName(back.roleKind)) of term \(back.term), not a follower of node \(successor) in term \(term)")
        for node in s.nodes {
            let core = try d.running(node)
            let value = try d.machine(node) { $0?.get(key) }
            try check(core.commitIndex >= written && value == "written in term \(s.term)",
                      "node \(node) lacks the write committed before the crash (entry \(written))")
        }
        return "node \(successor) leads term \(term) after node \(old), leader of term \(s.term), crashed; node \(old) came back as its follower; the write committed before the crash (entry \(written)) is on all \(s.nodes.count) nodes"
    }

    // MARK: - Log repair

    static let logRepair = Scenario(
        name: "log-repair", title: "a follower that missed entries, repaired by AppendEntries back-off",
        needs: "one process, 3 or more nodes", minimumNodes: 3, exactNodes: nil
    ) { d, s in
        let leader = s.leader, lagging = s.followers[0]
        let rest = s.nodes.filter { $0 != lagging }
        d.say("node \(lagging) misses everything from now on: the messages to it are dropped while three writes commit on the others")
        for number in 1...3 { try d.propose(at: leader, .put(key: "scenario/log-repair/\(number)", value: "v\(number)")) }
        d.settle()
        try d.replicate(from: leader, among: rest, heartbeat: false)
        let last = try d.running(leader).log.lastIndex
        try check(try d.running(leader).commitIndex == last, "the writes did not commit on the majority")
        try check(try d.running(lagging).log.lastIndex == s.commit, "node \(lagging) should have missed entries \(s.commit + 1)…\(last)")
        d.say("node \(lagging)'s log ends at \(s.commit); the leader's at \(last), committed on \(rest.count) of \(s.nodes.count) nodes")
        try d.heartbeat(leader)
        guard let probe = d.held(from: leader, to: lagging, [.heartbeat, .appendEntries]).first,
              case .appendRequest(let first) = probe.envelope.message else {
            throw ScenarioFailure("the leader sent node \(lagging) no AppendEntries")
        }
        d.say("the leader's heartbeat to node \(lagging) checks prevLogIndex \(first.prevLogIndex) (term \(first.prevLogTerm))")
        try d.deliver(probe)
        guard let refusal = d.held(from: lagging, to: leader, [.appendResponse]).first,
              case .appendResponse(let answer) = refusal.envelope.message, !answer.success else {
            throw ScenarioFailure("node \(lagging) did not refuse the AppendEntries at \(first.prevLogIndex)")
        }
        d.say("node \(lagging) refuses: it has no entry \(first.prevLogIndex) (its log ends at \(s.commit)); its answer says where to resume (\(answer.hintIndex))")
        try d.deliver(refusal)
        guard let repair = d.held(from: leader, to: lagging, [.appendEntries]).first,
              case .appendRequest(let retry) = repair.envelope.message else {
            throw ScenarioFailure("the leader did not back off and resend to node \(lagging)")
        }
        d.say("the leader backs off: nextIndex for node \(lagging) goes back to \(retry.prevLogIndex + 1); it sends entries \(retry.prevLogIndex + 1)…\(retry.prevLogIndex + retry.entries.count) after prevLogIndex \(retry.prevLogIndex)")
        try d.deliver(repair)
        try d.replicate(from: leader, among: s.nodes, heartbeat: false)
        let repaired = try d.running(lagging)
        let reference = try d.running(leader)
        try check(repaired.log.lastIndex == last && repaired.commitIndex == last
                  && (s.commit + 1...last).allSatisfy { repaired.log.term(at: $0) == reference.log.term(at: $0) },
                  "node \(lagging) was not repaired: log \(repaired.log.lastIndex), commit \(repaired.commitIndex), the leader's \(last)")
        try check(retry.prevLogIndex < first.prevLogIndex, "the leader did not back off")
        for number in 1...3 {
            let value = try d.machine(lagging) { $0?.get("scenario/log-repair/\(number)") }
            try check(value == "v\(number)", "node \(lagging) did not apply write \(number)")
        }
        return "node \(lagging) missed entries \(s.commit + 1)…\(last); the leader's AppendEntries at prevLogIndex \(first.prevLogIndex) was refused; the leader backed off to nextIndex \(retry.prevLogIndex + 1) and repaired it: node \(lagging) holds and applied entries through \(last), term \(s.term), committed"
    }

    // MARK: - Split vote

    static let splitVote = Scenario(
        name: "split-vote", title: "a split vote: two candidates in one term, no leader, then a new term",
        needs: "one process, 3 or more nodes", minimumNodes: 3, exactNodes: nil
    ) { d, s in
        let old = s.leader, a = s.followers[0], b = s.followers[1]
        let rest = Array(s.followers.dropFirst(2))
        let alive = s.followers
        d.say("node \(old), the leader, crashes; nodes \(a) and \(b) will time out together")
        try d.kill(old)
        for node in rest { try d.forgetLeader(node) }
        try d.tickToTimeout(a)
        try d.tickToTimeout(b)
        d.say("both ask for pre-votes; a pre-vote binds no one, so both are granted")
        try d.deliverAll { [MessageKind.preVote, .preVoteResponse].contains(MessageKind.of($0.envelope.message)) && alive.contains($0.envelope.to) }
        let term = s.term + 1
        let coreA = try d.running(a), coreB = try d.running(b)
        try check(coreA.roleKind == .candidate && coreB.roleKind == .candidate && coreA.term == term && coreB.term == term,
                  "nodes \(a) and \(b) are not both candidates of term \(term)")
        let sideA = rest.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let sideB = rest.filter { !sideA.contains($0) }
        d.say("both campaign in term \(term), each voting for itself; node \(a)'s request reaches \(ScenarioDriver.names(sideA + [b])), node \(b)'s reaches \(ScenarioDriver.names(sideB + [a]))")
        for message in d.held([MessageKind.requestVote]) {
            let to = message.envelope.to, from = message.envelope.from
            let wanted = (from == a && (sideA + [b]).contains(to)) || (from == b && (sideB + [a]).contains(to))
            if wanted { try d.deliver(message) } else { try d.drop(message) }
        }
        try d.deliverAll { MessageKind.of($0.envelope.message) == .voteResponse }
        let votesA = 1 + sideA.count, votesB = 1 + sideB.count, majority = s.nodes.count / 2 + 1
        d.say("split vote: node \(a) has \(votesA) vote\(votesA == 1 ? "" : "s"), node \(b) \(votesB) (each refused the other: it had voted for itself); a majority is \(majority); nobody leads term \(term)")
        let afterA = try d.running(a), afterB = try d.running(b)
        try check(!afterA.isLeader && !afterB.isLeader && afterA.term == term && afterB.term == term,
                  "someone won term \(term) after all")
        d.say("the next timer to run out is node \(a)'s: it campaigns again")
        for node in rest { try d.forgetLeader(node) }
        let won = try d.elect(a, voters: alive.filter { $0 != a })
        try d.replicate(from: a, among: alive)
        d.say("node \(old) restarts and follows node \(a)")
        try d.restart(old)
        try d.replicate(from: a, among: s.nodes)
        try check(won == term + 1, "node \(a) won term \(won), not \(term + 1)")
        let back = try d.running(old)
        try check(back.leaderID == a && back.term == won, "node \(old) does not follow node \(a)")
        return "term \(term) had two candidates (nodes \(a) and \(b)) with \(votesA) and \(votesB) votes of the \(majority) needed: no leader; node \(a)'s timer ran out first and it won term \(won); all \(s.nodes.count) nodes follow it"
    }
}
