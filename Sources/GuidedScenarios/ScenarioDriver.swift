import ClientFront
import ClusterTransport
import Dispatch
import Synchronization
import JSONText
import KVStore
import KVWire
import NodeHosting
import RaftCore
import RaftEngine
import RuntimeSupport

/// Why a scenario stopped: a step could not be taken, or its check did not hold.
struct ScenarioFailure: Error, CustomStringConvertible {
    var description: String
    init(_ text: String) { description = text }
}

/// Drives the paused cluster by hand for a scenario, with the same admin requests a person
/// would send (pause, tick, deliver, drop, kill, restart, partition), narrating each step in the
/// event log (and on the recording's timeline). Every step waits until the nodes it touched
/// have worked off what it gave them, so nothing depends on timing: after a delivery the
/// receiver has handled the message and its answers are held, ready to be chosen.
final class ScenarioDriver: Sendable {
    let admin: AdminHandler
    let name: String

    init(admin: AdminHandler, name: String) {
        self.admin = admin
        self.name = name
    }

    var registry: ClusterRegistry { admin.registry }

    /// Starts something that answers through a callback, and waits for the answer. A scenario
    /// runs on a thread of its own (never on Swift concurrency's few shared threads, which a
    /// blocked caller could starve), so waiting here holds up nothing else.
    func wait<T: Sendable>(_ start: (@escaping @Sendable (T) -> Void) -> Void) -> T {
        let answer = Mutex<T?>(nil)
        let semaphore = DispatchSemaphore(value: 0)
        start { value in
            answer.withLock { $0 = value }
            semaphore.signal()
        }
        semaphore.wait()
        return answer.withLock { $0! }
    }

    /// Narrates a step: the event feed shows it, and the recording's timeline places it.
    func say(_ text: String) {
        admin.events.log("scenario \(name): \(text)")
        admin.replays.note("scenario", text)
    }

    /// Sends an admin request as a client would; a refusal stops the scenario.
    @discardableResult
    func request(_ request: AdminRequest) throws -> JSONObject {
        let line: String = wait { done in admin.handle(request, id: nil, hops: 0, respond: done) }
        guard case .object(let answer)? = try? JSONParser.parse(line) else { throw ScenarioFailure("unreadable answer: \(line)") }
        guard answer["status"]?.stringValue == "ok" else {
            throw ScenarioFailure("\(RequestEncoder.line(.admin(request))) was refused: \(answer["error"]?.stringValue ?? line)")
        }
        return answer
    }

    func host(_ node: NodeID) throws -> NodeHost {
        guard let host = registry.host(node) else { throw ScenarioFailure("node \(node) is not in this process") }
        return host
    }

    /// Waits until every node has worked off what it was given (and flushed).
    func settle() {
        for host in registry.localHosts {
            let _: Bool = wait { done in host.withMachine { _ in done(true) } }
        }
    }

    /// Node `node`'s core as it is now (nil: down).
    func core(_ node: NodeID) throws -> RaftNode? {
        let host = try host(node)
        settle()
        return wait { done in host.withEngine { engine in done(engine?.raft) } }
    }

    func running(_ node: NodeID) throws -> RaftNode {
        guard let core = try core(node) else { throw ScenarioFailure("node \(node) is down") }
        return core
    }

    /// Node `node`'s state machine, read on its queue.
    func machine<T: Sendable>(_ node: NodeID, _ read: @escaping @Sendable (KVStateMachine?) -> T) throws -> T {
        let host = try host(node)
        return wait { done in host.withMachine { machine in done(read(machine)) } }
    }

    // MARK: - Messages

    var held: [HeldMessage] { admin.switchboard.heldMessages }

    func held(from: NodeID? = nil, to: NodeID? = nil, _ kinds: [MessageKind] = []) -> [HeldMessage] {
        held.filter { message in
            (from == nil || message.envelope.from == from) && (to == nil || message.envelope.to == to)
                && (kinds.isEmpty || kinds.contains(MessageKind.of(message.envelope.message)))
        }
    }

    func deliver(_ message: HeldMessage) throws {
        try request(.deliver(message: message.id))
        settle()
    }

    func drop(_ message: HeldMessage) throws {
        try request(.drop(message: message.id))
    }

    /// Delivers the held messages that `select` picks, oldest first, and those their delivery
    /// brings, until none is left (at most `limit`). Returns how many were delivered.
    @discardableResult
    func deliverAll(limit: Int = 400, where select: (HeldMessage) -> Bool = { _ in true }) throws -> Int {
        var delivered = 0
        while let next = held.first(where: select) {
            guard delivered < limit else { throw ScenarioFailure("more than \(limit) messages kept coming") }
            try deliver(next)
            delivered += 1
        }
        return delivered
    }

    /// Drops every held message `select` picks; returns how many.
    @discardableResult
    func dropAll(where select: (HeldMessage) -> Bool = { _ in true }) throws -> Int {
        let chosen = held.filter(select)
        for message in chosen { try drop(message) }
        return chosen.count
    }

    // MARK: - Nodes

    func tick(_ node: NodeID, _ count: Int) throws {
        guard count > 0 else { return }
        try request(.tick(node: node, count: count))
        settle()
    }

    /// Ticks the leader until it sends its heartbeats (a heartbeat period).
    func heartbeat(_ leader: NodeID) throws {
        try tick(leader, try running(leader).config.heartbeatTicks)
    }

    /// Ticks `node` exactly until its election timer runs out: it campaigns (a pre-vote first).
    func tickToTimeout(_ node: NodeID) throws {
        let core = try running(node)
        let ticks = max(1, core.electionTimeout - core.electionElapsed)
        say("node \(node)'s election timer runs out: \(ticks) tick\(ticks == 1 ? "" : "s") (its timeout is \(core.electionTimeout) ticks)")
        try tick(node, ticks)
    }

    /// Ticks `node` until it has heard nothing from a leader for the shortest election timeout, so
    /// that it may vote for someone else; whatever it sends meanwhile (its own pre-vote, should its
    /// timer run out) is dropped.
    func forgetLeader(_ node: NodeID) throws {
        let core = try running(node)
        let ticks = core.leaderID == nil ? 0 : max(0, core.config.electionTicksMin - core.electionElapsed)
        guard ticks > 0 else { return }
        let before = Set(held(from: node).map(\.id))
        try tick(node, ticks)
        try dropAll { $0.envelope.from == node && !before.contains($0.id) }
    }

    func kill(_ node: NodeID) throws {
        try request(.kill(node: node))
        settle()
    }

    func restart(_ node: NodeID) throws {
        try request(.restart(node: node))
        settle()
    }

    /// Proposes a write at `node` directly (a client at the leader); its answer is not awaited.
    func propose(at node: NodeID, _ command: KVCommand) throws {
        try host(node).propose(command, waiter: IgnoredWriter())
    }

    /// Elects `candidate` by hand with the votes of `voters` (which must be able to vote: out of
    /// any leader's lease): its timer runs out, its pre-vote requests reach the voters and their
    /// answers come back, then the same for the real vote. Messages to anyone else are dropped.
    /// Returns the term it leads (throws when it did not win).
    @discardableResult
    func elect(_ candidate: NodeID, voters: [NodeID], rounds: Int = 3) throws -> Term {
        for _ in 0..<rounds {
            try tickToTimeout(candidate)
            for phase in [MessageKind.preVote, .requestVote] {
                let requests = held(from: candidate, [phase])
                if requests.isEmpty { continue }
                for message in requests {
                    if voters.contains(message.envelope.to) { try deliver(message) } else { try drop(message) }
                }
                let answers = held(to: candidate, [phase == .preVote ? .preVoteResponse : .voteResponse])
                    .filter { voters.contains($0.envelope.from) }
                let granted = answers.filter { if case .voteResponse(let r) = $0.envelope.message { r.granted } else { false } }
                say("node \(candidate) asks for \(phase == .preVote ? "pre-votes" : "votes"): granted by \(Self.names(granted.map(\.envelope.from))), refused by \(Self.names(answers.filter { m in !granted.contains { $0.id == m.id } }.map(\.envelope.from)))")
                for answer in answers { try deliver(answer) }
            }
            let core = try running(candidate)
            if core.isLeader {
                say("node \(candidate) leads term \(core.term)")
                return core.term
            }
            say("node \(candidate) did not win (\(Self.roleName(core.roleKind)), term \(core.term)); it tries again when its timer runs out")
            try dropAll { $0.envelope.from == candidate }
        }
        throw ScenarioFailure("node \(candidate) could not be elected with the votes of \(Self.names(voters))")
    }

    /// The leader sends a heartbeat and everything is delivered until no message is left among
    /// `nodes` (messages to anyone else are dropped): every reachable log catches up and learns
    /// the commit index.
    func replicate(from leader: NodeID, among nodes: [NodeID], heartbeat: Bool = true) throws {
        if heartbeat { try self.heartbeat(leader) }
        func outside(_ message: HeldMessage) -> Bool { !nodes.contains(message.envelope.to) || !nodes.contains(message.envelope.from) }
        for round in 0..<4 {
            try dropAll(where: outside)
            try deliverAll { !outside($0) }
            try dropAll(where: outside)
            guard let lead = try core(leader), lead.isLeader else { return }
            var behind = false
            for node in nodes where node != leader {
                if let core = try core(node), core.commitIndex < lead.commitIndex || core.log.lastIndex < lead.log.lastIndex {
                    behind = true
                }
            }
            // A follower that answered after the commit notice went out learns it from a heartbeat.
            if !behind || round == 3 { return }
            try self.heartbeat(leader)
        }
    }

    static func names(_ nodes: [NodeID]) -> String {
        if nodes.isEmpty { return "nobody" }
        return nodes.sorted().map { "node \($0)" }.joined(separator: ", ")
    }

    static func roleName(_ kind: RoleKind) -> String {
        switch kind {
        case .follower: return "follower"
        case .preCandidate: return "pre-candidate"
        case .candidate: return "candidate"
        case .leader: return "leader"
        }
    }
}

/// A scenario's own writes: nobody waits for their answers.
final class IgnoredWriter: WriteWaiter {
    func appended() {}
    func finish(_ outcome: WriteOutcome<KVResult>) {}
}
