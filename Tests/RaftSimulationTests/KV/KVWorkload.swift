import KVStore
import KVWire
import RaftCore
import RaftEngine

/// The key-value workload's knobs, drawn from the run's seed (beside the `Swarm`'s faults).
struct KVSwarm: CustomStringConvertible {
    /// Clients with sessions (exactly-once writes), and the share of proposals that are theirs.
    var sessionClients: Int
    var sessionShare: Double
    /// Transactions that write the `pair/` keys, and other transactions.
    var pairShare: Double
    var txnShare: Double
    /// Leases granted and revoked, and puts attached to them.
    var leaseShare: Double
    /// A client retries a write with no answer after this many ticks.
    var retryTicks: Int
    /// Log time: milliseconds per simulated time unit, and each node's clock error.
    var msPerUnit: Int64
    var clockSkewMs: [Int64]
    /// Range reads of a random node's applied state, per tick.
    var rangeReadRate: Double
    /// Longer than any run's log time: no session expires, so every answer can be checked
    /// exactly (expiry has its own scenario).
    static let sessionTimeoutSeconds: Int64 = 3600

    init(seed: UInt64) {
        var random = SplitMix64(seed: seed ^ 0x5EED_4B56_0000_0017)
        func unit() -> Double { Double.random(in: 0..<1, using: &random) }
        sessionClients = 1 + Int(unit() * 4)
        sessionShare = 0.1 + unit() * 0.3
        pairShare = 0.1 + unit() * 0.3
        txnShare = unit() * 0.25
        leaseShare = unit() < 0.3 ? 0 : unit() * 0.15
        retryTicks = 5 + Int(unit() * 40)
        msPerUnit = unit() < 0.5 ? 10 : 100
        let skew = unit() < 0.5 ? 0 : Int64(unit() * 3000)
        clockSkewMs = (0..<16).map { _ in skew == 0 ? 0 : Int64.random(in: -skew...(skew / 10), using: &random) }
        rangeReadRate = unit()
    }

    var description: String {
        "\(sessionClients) session clients (\(sessionShare.formatted2)), pair txns \(pairShare.formatted2), txns \(txnShare.formatted2), leases \(leaseShare.formatted2), retry after \(retryTicks) ticks, \(msPerUnit) ms/unit, ranges \(rangeReadRate.formatted2)/tick"
    }
}

/// Real key-value commands for `KVStateMachine` under the simulator's faults, through the same
/// proposal path as every other workload: puts, deletes, cas and cas by revision, delete by
/// prefix, transactions (compares on value, modRevision and existence; branches of put, get,
/// delete, delete by prefix and range), leases with keys attached, and clients with sessions
/// that retry, repeat and send stale sequence numbers. Besides the simulator's state-machine
/// safety check (every node's state after every index the same), it checks two things of its own:
///
/// - **No half transactions.** The keys `pair/G/a` and `pair/G/b` are only ever written together,
///   by one transaction (or removed together: a transaction, a delete by prefix, a lease both are
///   attached to). Every range over `pair/` — of the node that just stepped after every step,
///   a random node's state paged with continuations, the state a linearizable read is served
///   from, a range inside a transaction — must show both or neither, with equal records.
/// - **Exactly-once writes.** Each session client owns `sess/C` and writes it once per `seq`
///   (put, cas, cas by revision, or a transaction), expecting the value `seq` at version `seq`:
///   a write applied twice shows as a failed cas, a failed compare or a version too high. A retry
///   of an answered seq must get the same answer (or `stale`), a lower seq `stale` — and the
///   `probe/C` key that such stale writes would set must never exist.
final class KVWorkload: SimWorkload {
    typealias Machine = KVSimMachine

    let settings: KVSwarm
    private var clients: [SessionClient] = []
    /// Lease ids seen granted (some revoked since).
    private var leases: [Int64] = []
    private var valueNumber = 0
    private var proposalsAtLeaderShare = 1.0
    /// Per node, the state whose pairs were last checked after a step.
    private var checkedStates: [(applied: LogIndex, restored: LogIndex)] = []

    // Figures.
    private(set) var commandsAnswered = 0
    private(set) var transactions = 0
    private(set) var pairTransactions = 0
    private(set) var rangesChecked = 0
    private(set) var sessionWrites = 0
    private(set) var sessionRetries = 0
    private(set) var duplicatesSent = 0
    private(set) var staleSent = 0
    private(set) var leasesGranted = 0
    /// Pair transactions whose success branch ran; copies of a session write answered from the
    /// session table (the write was in the log more than once); stale answers.
    private(set) var pairWrites = 0
    private(set) var repeatsAnsweredOnce = 0
    private(set) var staleAnswers = 0

    static let plainKeys = ["k/0", "k/1", "k/2", "k/3", "k/10", "k/é", "k/e\u{301}", "m/0", "m/1", "m/2"]
    static let plainPrefixes = ["k/", "k/1", "m/", "nothing/"]
    static let pairGroups = 3
    static let pairRange = RangeQuery(prefix: "pair/")

    init(settings: KVSwarm) {
        self.settings = settings
        clients = (0..<settings.sessionClients).map { SessionClient(name: "c\($0)") }
    }

    func attach(to cluster: KVSimCluster, swarm: Swarm) {
        proposalsAtLeaderShare = swarm.proposalsAtLeaderShare
        cluster.stepObserver = { [unowned self, unowned cluster] node in
            guard let machine = cluster.nodes[node].engine?.machine else { return }
            // Only a state that moved on can show something new.
            let seen = (applied: machine.appliedIndex, restored: machine.restoredIndex)
            if node < self.checkedStates.count, self.checkedStates[node] == seen { return }
            while self.checkedStates.count <= node { self.checkedStates.append((-1, -1)) }
            self.checkedStates[node] = seen
            self.checkPairs(machine.state.page(Self.pairRange).entries, cluster, "node \(node)'s applied state")
        }
        cluster.readObserver = { [unowned self, unowned cluster] node, machine in
            self.checkPairs(machine.state.page(Self.pairRange).entries, cluster, "a linearizable read at node \(node)")
        }
    }

    var summary: String {
        "\(commandsAnswered) KV answers, \(transactions) txns (\(pairTransactions) on pairs, \(pairWrites) wrote them), \(rangesChecked) pair ranges checked, \(sessionWrites) session writes (\(sessionRetries) retries, \(duplicatesSent) repeats, \(staleSent) stale; \(repeatsAnsweredOnce) answered from the session table, \(staleAnswers) stale), \(leasesGranted) leases"
    }

    // MARK: - Proposing

    func propose(_ number: Int, in cluster: KVSimCluster, swarm: Swarm) {
        let roll = Double.random(in: 0..<1, using: &cluster.randomSource)
        if roll < settings.sessionShare, !clients.isEmpty {
            sessionStep(clients[Int.random(in: 0..<clients.count, using: &cluster.randomSource)], cluster)
            return
        }
        let target = pickTarget(cluster)
        if roll < settings.sessionShare + settings.pairShare {
            send(pairTransaction(cluster, at: target), at: target, cluster, checkRanges: true)
        } else if roll < settings.sessionShare + settings.pairShare + settings.txnShare {
            transactions += 1
            send(KVCommand(.txn(randomTransaction(cluster, at: target))), at: target, cluster, checkRanges: false)
        } else if roll < settings.sessionShare + settings.pairShare + settings.txnShare + settings.leaseShare {
            send(leaseCommand(cluster), at: target, cluster, checkRanges: false)
        } else {
            send(KVCommand(plainOperation(cluster, at: target)), at: target, cluster, checkRanges: false)
        }
    }

    /// Every tick: a range over `pair/` of some live node's state, read in pages of one to three
    /// keys continued with `after`, all from one frozen copy, as a paging client reads a snapshot.
    func tick(_ cluster: KVSimCluster) {
        var credit = settings.rangeReadRate
        while credit > 0 {
            if credit < 1, !cluster.chance(credit) { break }
            credit -= 1
            let live = cluster.liveNodes
            guard !live.isEmpty else { return }
            let node = live[Int.random(in: 0..<live.count, using: &cluster.randomSource)]
            guard let frozen = cluster.nodes[node].engine?.machine.freeze() else { continue }
            let limit = Int.random(in: 1...3, using: &cluster.randomSource)
            var entries: [KeyEntry] = []
            var query = RangeQuery(prefix: "pair/", limit: limit)
            while true {
                let page = frozen.page(query)
                entries += page.entries
                guard page.more, let last = page.entries.last else { break }
                query.after = last.key.string
            }
            if entries != frozen.page(Self.pairRange).entries {
                cluster.checker.failExternally("a paged range over pair/ at node \(node) (pages of \(limit)) differs from the whole range")
            }
            checkPairs(entries, cluster, "a paged range at node \(node)")
        }
    }

    private func pickTarget(_ cluster: KVSimCluster) -> NodeID {
        if let leader = cluster.leader, cluster.chance(proposalsAtLeaderShare) { return leader }
        return Int.random(in: 0..<cluster.clusterSize, using: &cluster.randomSource)
    }

    /// The leader's clock (log time): real milliseconds since 1970, give or take the node's skew.
    private func clock(_ cluster: KVSimCluster, _ node: NodeID) -> Int64 {
        1_700_000_000_000 + Int64(cluster.now) * settings.msPerUnit + settings.clockSkewMs[node % settings.clockSkewMs.count]
    }

    /// Proposes as a node's client front does: encoded once, stamped with the node's time when
    /// it carries a session. Returns false when the node is down (nothing will answer).
    @discardableResult
    private func propose(_ command: KVCommand, at node: NodeID, _ cluster: KVSimCluster,
                         answer: @escaping (WriteOutcome<KVApplied>) -> Void) -> Bool {
        guard cluster.nodes[node].isAlive else { return false }
        let text = command.encoded
        let stamped = KVCommand.needsLogTime(text)
            ? KVCommand.stamped(text, time: clock(cluster, node), sessionTimeoutSeconds: KVSwarm.sessionTimeoutSeconds) : text
        cluster.propose(at: node, stamped, finish: answer)
        return true
    }

    private func send(_ command: KVCommand, at node: NodeID, _ cluster: KVSimCluster, checkRanges: Bool) {
        propose(command, at: node, cluster) { [unowned self, unowned cluster] outcome in
            guard case .applied(let applied) = outcome else { return }
            self.commandsAnswered += 1
            if case .lease(let id, _) = applied.result { self.leases.append(id) }
            if checkRanges, case .txn(let succeeded, let steps, _) = applied.result {
                if succeeded { self.pairWrites += 1 }
                for case .range(let entries, _, _) in steps {
                    self.checkPairs(entries, cluster, "a range inside a transaction at node \(node)")
                }
            }
        }
    }

    private func nextValue() -> String {
        valueNumber += 1
        return "v\(valueNumber)"
    }

    private func pick<T>(_ items: [T], _ cluster: KVSimCluster) -> T {
        items[Int.random(in: 0..<items.count, using: &cluster.randomSource)]
    }

    /// What the target node's state says now (possibly stale): so that cas and compares succeed
    /// about half of the time.
    private func peek(_ key: String, _ cluster: KVSimCluster, at node: NodeID) -> KeyRecord? {
        cluster.nodes[node].engine?.machine.state.keys[key]
    }

    private func knownLease(_ cluster: KVSimCluster) -> Int64? {
        guard !leases.isEmpty else { return nil }
        return pick(leases, cluster)
    }

    // MARK: - Commands

    private func plainOperation(_ cluster: KVSimCluster, at node: NodeID) -> KVCommand.Operation {
        let key = pick(Self.plainKeys, cluster)
        let current = peek(key, cluster, at: node)
        let roll = Double.random(in: 0..<1, using: &cluster.randomSource)
        switch roll {
        case ..<0.3:
            let value = cluster.chance(0.05) ? pick(["", "é", "e\u{301}"], cluster) : nextValue()
            return .put(key: key, value: value, lease: cluster.chance(0.15) ? knownLease(cluster) : nil)
        case ..<0.45:
            return .delete(key: key)
        case ..<0.52:
            return .deletePrefix(pick(Self.plainPrefixes + ["pair/", "pair/1/"], cluster))
        case ..<0.7:
            let expect = cluster.chance(0.6) ? current?.value : (cluster.chance(0.5) ? nil : pick(["v1", "é", "e\u{301}"], cluster))
            return .cas(key: key, expect: expect, value: nextValue())
        case ..<0.88:
            let expected = cluster.chance(0.6) ? (current?.modRevision ?? 0) : Int64.random(in: 0...20, using: &cluster.randomSource)
            return .casRevision(key: key, expectRevision: expected, value: nextValue())
        default:
            return .read(key: key)
        }
    }

    private func leaseCommand(_ cluster: KVSimCluster) -> KVCommand {
        if leases.isEmpty || cluster.chance(0.4) {
            leasesGranted += 1
            return KVCommand(.leaseGrant(ttlMs: Int64.random(in: 1000...60_000, using: &cluster.randomSource)))
        }
        let id = cluster.chance(0.9) ? knownLease(cluster)! : Int64.random(in: 1...500, using: &cluster.randomSource)
        return KVCommand(.leaseRevoke(id: id, expired: cluster.chance(0.3)))
    }

    private func randomCompare(_ cluster: KVSimCluster, at node: NodeID) -> Transaction.Compare {
        let key = pick(Self.plainKeys, cluster)
        let current = peek(key, cluster, at: node)
        switch Int.random(in: 0..<3, using: &cluster.randomSource) {
        case 0: return .value(key: key, equals: cluster.chance(0.6) ? current?.value : nextValue())
        case 1: return .modRevision(key: key, equals: cluster.chance(0.6) ? (current?.modRevision ?? 0) : Int64.random(in: 0...20, using: &cluster.randomSource))
        default: return .exists(key: key, cluster.chance(0.5))
        }
    }

    private func randomRange(_ cluster: KVSimCluster) -> RangeQuery {
        var query: RangeQuery
        switch Int.random(in: 0..<3, using: &cluster.randomSource) {
        case 0: query = RangeQuery(prefix: pick(Self.plainPrefixes, cluster))
        case 1:
            // The client front refuses from > to (in UTF-8 byte order): such a range never reaches the log.
            let ends = [pick(Self.plainKeys, cluster), pick(Self.plainKeys, cluster)].sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            query = RangeQuery(from: ends[0], to: cluster.chance(0.7) ? ends[1] : nil)
        default: query = RangeQuery()
        }
        if cluster.chance(0.5) { query.limit = Int.random(in: 1...4, using: &cluster.randomSource) }
        if cluster.chance(0.3) { query.keysOnly = true }
        if cluster.chance(0.2) { query.after = pick(Self.plainKeys, cluster) }
        return query
    }

    private func randomStep(_ cluster: KVSimCluster) -> Transaction.Step {
        let key = pick(Self.plainKeys, cluster)
        switch Int.random(in: 0..<10, using: &cluster.randomSource) {
        case 0..<3: return .put(key: key, value: nextValue(), lease: cluster.chance(0.1) ? knownLease(cluster) : nil)
        case 3..<5: return .get(key: key)
        case 5..<7: return .delete(key: key)
        case 7: return .deletePrefix(pick(Self.plainPrefixes, cluster))
        default: return .range(randomRange(cluster))
        }
    }

    /// Compares on plain keys; branches of plain steps (and, now and then, every pair at once
    /// removed, or read whole).
    private func randomTransaction(_ cluster: KVSimCluster, at node: NodeID) -> Transaction {
        let compares = (0..<Int.random(in: 0...3, using: &cluster.randomSource)).map { _ in randomCompare(cluster, at: node) }
        func branch() -> [Transaction.Step] {
            var steps = (0..<Int.random(in: 0...4, using: &cluster.randomSource)).map { _ in randomStep(cluster) }
            if cluster.chance(0.1) {
                steps.insert(cluster.chance(0.5) ? .deletePrefix("pair/") : .range(Self.pairRange),
                             at: Int.random(in: 0...steps.count, using: &cluster.randomSource))
            }
            return steps
        }
        return Transaction(compare: compares, success: branch(), failure: branch())
    }

    /// A transaction that writes both keys of one pair (or of every pair) to one value, possibly
    /// on one lease, and reads `pair/` whole before or after; its failure branch removes the pair,
    /// rewrites it, reads it, or does nothing.
    private func pairTransaction(_ cluster: KVSimCluster, at node: NodeID) -> KVCommand {
        pairTransactions += 1
        transactions += 1
        let groups = cluster.chance(0.2) ? Array(0..<Self.pairGroups) : [Int.random(in: 0..<Self.pairGroups, using: &cluster.randomSource)]
        let first = groups[0]
        let a = "pair/\(first)/a", b = "pair/\(first)/b"
        // Mostly what the target's state says (so the success branch runs about half the time).
        var compares: [Transaction.Compare] = []
        for _ in 0..<(cluster.chance(0.7) ? 1 : 2) {
            let guess = cluster.chance(0.8)
            switch Int.random(in: 0..<3, using: &cluster.randomSource) {
            case 0: compares.append(.exists(key: a, (peek(a, cluster, at: node) != nil) == guess))
            case 1: compares.append(.value(key: a, equals: guess ? peek(a, cluster, at: node)?.value : nextValue()))
            default: compares.append(.modRevision(key: b, equals: guess ? (peek(b, cluster, at: node)?.modRevision ?? 0) : 3))
            }
        }
        let value = "p\(valueNumber + 1)"
        valueNumber += 1
        let lease = cluster.chance(0.3) ? knownLease(cluster) : nil
        var success: [Transaction.Step] = groups.flatMap { group -> [Transaction.Step] in
            [.put(key: "pair/\(group)/a", value: value, lease: lease), .put(key: "pair/\(group)/b", value: value, lease: lease)]
        }
        if cluster.chance(0.4) {
            // Before every write or after them all: never between the two halves.
            if cluster.chance(0.5) { success.insert(.range(Self.pairRange), at: 0) } else { success.append(.range(Self.pairRange)) }
        }
        let failure: [Transaction.Step]
        switch Int.random(in: 0..<6, using: &cluster.randomSource) {
        case 0: failure = []
        case 1: failure = [.delete(key: a), .delete(key: b)]
        case 2: failure = [.deletePrefix("pair/\(first)/")]
        case 3: failure = [.put(key: a, value: value + "f", lease: nil), .put(key: b, value: value + "f", lease: nil), .get(key: a)]
        case 4: failure = [.range(Self.pairRange)]
        default: failure = [.get(key: b)]
        }
        return KVCommand(.txn(Transaction(compare: compares, success: success, failure: failure)))
    }

    // MARK: - Checks

    /// Both keys of every pair, or neither, with equal records: a range never sees half a transaction.
    func checkPairs(_ entries: [KeyEntry], _ cluster: KVSimCluster, _ source: @autoclosure () -> String) {
        rangesChecked += 1
        if let problem = Self.halfTransaction(in: entries) {
            cluster.checker.failExternally("a range over pair/ saw half a transaction in \(source()): \(problem)")
        }
    }

    /// `pair/0/a`, `pair/0/b`, `pair/1/a`, ...: the only keys under `pair/`.
    static let pairKeys: [ByteKey] = (0..<pairGroups).flatMap { [ByteKey("pair/\($0)/a"), ByteKey("pair/\($0)/b")] }

    static func halfTransaction(in entries: [KeyEntry]) -> String? {
        var halves = Array(repeating: (a: KeyRecord?.none, b: KeyRecord?.none), count: pairGroups)
        for entry in entries {
            guard let position = pairKeys.firstIndex(of: entry.key) else { return "unexpected key \(entry.key)" }
            if position % 2 == 0 { halves[position / 2].a = entry.record } else { halves[position / 2].b = entry.record }
        }
        for (group, pair) in halves.enumerated() where pair.a != pair.b {
            return "pair/\(group)/a is \(describe(pair.a)) but pair/\(group)/b is \(describe(pair.b))"
        }
        return nil
    }

    static func describe(_ record: KeyRecord?) -> String {
        guard let record else { return "absent" }
        return "\(record.value.debugDescription) (created \(record.createRevision), modified \(record.modRevision), version \(record.version), lease \(record.lease))"
    }

    // MARK: - Session clients

    private func sessionStep(_ client: SessionClient, _ cluster: KVSimCluster) {
        let tick = cluster.ticks
        if let outstanding = client.outstanding {
            if client.needsRetry || tick - client.lastAttemptTick >= settings.retryTicks {
                sessionRetries += 1
                attempt(client, seq: outstanding, cluster)
                return
            }
        } else if !cluster.chance(0.25) {
            beginNextSeq(client, cluster)
            return
        }
        // Between writes (or while one is on its way): repeat an answered seq, or send a stale one.
        guard client.completed > 0 else { return }
        if client.completed >= 2 && cluster.chance(0.5) {
            staleSent += 1
            let seq = Int64.random(in: 1..<client.completed, using: &cluster.randomSource)
            let probe = KVCommand(.put(key: "probe/\(client.name)", value: "stale \(seq)", lease: nil),
                                  session: ClientSession(client: client.name, seq: seq))
            let completedWhenSent = client.completed
            propose(probe, at: pickTarget(cluster), cluster) { [unowned self, unowned cluster] outcome in
                guard case .applied(let applied) = outcome else { return }
                self.commandsAnswered += 1
                guard case .stale(let last) = applied.result, last >= completedWhenSent else {
                    cluster.checker.failExternally("exactly-once: client \(client.name)'s stale seq \(seq) (after \(completedWhenSent) was answered) got \(applied.result), not stale_request")
                    return
                }
                self.staleAnswers += 1
            }
        } else {
            duplicatesSent += 1
            let seq = Int64.random(in: max(1, client.completed - 2)...client.completed, using: &cluster.randomSource)
            let completedWhenSent = client.completed
            propose(client.commands[seq]!, at: pickTarget(cluster), cluster) { [unowned self, unowned cluster] outcome in
                guard case .applied(let applied) = outcome else { return }
                self.commandsAnswered += 1
                self.checkRepeatedAnswer(client, seq: seq, applied.result, completedWhenSent: completedWhenSent, cluster)
            }
        }
    }

    /// A new write of `sess/C`: value `seq`, one of four ways, each of which fails if the
    /// previous seq was not applied exactly once.
    private func beginNextSeq(_ client: SessionClient, _ cluster: KVSimCluster) {
        let seq = client.completed + 1
        let key = client.key
        let previous: String? = seq == 1 ? nil : "\(seq - 1)"
        let operation: KVCommand.Operation
        switch Int.random(in: 0..<4, using: &cluster.randomSource) {
        case 0: operation = .put(key: key, value: "\(seq)", lease: nil)
        case 1: operation = .cas(key: key, expect: previous, value: "\(seq)")
        case 2: operation = .casRevision(key: key, expectRevision: client.modRevision, value: "\(seq)")
        default:
            let compare: Transaction.Compare = cluster.chance(0.5)
                ? .value(key: key, equals: previous) : .modRevision(key: key, equals: client.modRevision)
            operation = .txn(Transaction(compare: [compare], success: [.put(key: key, value: "\(seq)", lease: nil)],
                                         failure: [.get(key: key)]))
        }
        client.commands[seq] = KVCommand(operation, session: ClientSession(client: client.name, seq: seq))
        client.outstanding = seq
        sessionWrites += 1
        attempt(client, seq: seq, cluster)
    }

    /// Sends (again) the client's write of `seq`; every answer, from this copy or any other, is checked.
    private func attempt(_ client: SessionClient, seq: Int64, _ cluster: KVSimCluster) {
        client.attempts += 1
        let attempt = client.attempts
        client.lastAttemptTick = cluster.ticks
        client.needsRetry = false
        let sent = propose(client.commands[seq]!, at: pickTarget(cluster), cluster) { [unowned self, unowned cluster] outcome in
            switch outcome {
            case .applied(let applied):
                self.commandsAnswered += 1
                self.sessionAnswer(client, seq: seq, applied.result, cluster)
            case .notLeader, .lost, .unknown, .nodeDown:
                if client.outstanding == seq && client.attempts == attempt { client.needsRetry = true }
            }
        }
        if !sent { client.needsRetry = true }
    }

    private func sessionAnswer(_ client: SessionClient, seq: Int64, _ result: KVResult, _ cluster: KVSimCluster) {
        guard client.outstanding == seq else {
            // Another copy of a write already answered: the same answer, or stale once a later seq went in.
            checkRepeatedAnswer(client, seq: seq, result, completedWhenSent: seq, cluster)
            return
        }
        guard let record = Self.writtenRecord(result), record.value == "\(seq)", record.version == seq else {
            cluster.checker.failExternally("exactly-once: client \(client.name)'s write of seq \(seq) (\(client.commands[seq]!.encoded)) was answered \(result): applied more than once, or not as the only write of seq \(seq)")
            return
        }
        client.answers[seq] = result
        client.completed = seq
        client.modRevision = record.modRevision
        client.outstanding = nil
        client.needsRetry = false
    }

    private func checkRepeatedAnswer(_ client: SessionClient, seq: Int64, _ result: KVResult, completedWhenSent: Int64,
                                     _ cluster: KVSimCluster) {
        if case .stale(let last) = result, last > seq, last >= completedWhenSent {
            staleAnswers += 1
            return
        }
        if seq == completedWhenSent, let first = client.answers[seq], result == first {
            repeatsAnsweredOnce += 1
            return
        }
        cluster.checker.failExternally("exactly-once: a repeat of client \(client.name)'s seq \(seq) (answered \(client.answers[seq].map { "\($0)" } ?? "?") first; \(completedWhenSent) answered when repeated) got \(result)")
    }

    /// The record a client's write left on its key, as its answer says.
    static func writtenRecord(_ result: KVResult) -> KeyRecord? {
        switch result {
        case .key(_, let record, _): return record
        case .txn(true, let steps, _):
            guard steps.count == 1, case .key(_, let record) = steps[0] else { return nil }
            return record
        default: return nil
        }
    }

    // MARK: - The end

    /// Every client's last write answered (retried at the leader of the healed cluster); then on
    /// every live member: each `sess/C` at the last answered seq and version, no stale write
    /// applied, and no half transaction.
    func finish(_ cluster: KVSimCluster) -> String? {
        for _ in 0..<5 {
            let waiting = clients.filter { $0.outstanding != nil }
            if waiting.isEmpty { break }
            guard cluster.run(upTo: 300, until: { $0.stableLeader != nil }), let leader = cluster.stableLeader else {
                return cluster.violation ?? "no stable leader to answer the clients' last writes"
            }
            for client in waiting {
                client.attempts += 1
                let seq = client.outstanding!
                propose(client.commands[seq]!, at: leader, cluster) { [unowned self, unowned cluster] outcome in
                    if case .applied(let applied) = outcome { self.sessionAnswer(client, seq: seq, applied.result, cluster) }
                }
            }
            cluster.run(upTo: 200) { _ in waiting.allSatisfy { $0.outstanding == nil } }
            if let violation = cluster.violation { return violation }
        }
        if let client = clients.first(where: { $0.outstanding != nil }) {
            return "liveness: client \(client.name)'s write of seq \(client.outstanding!) was never answered after healing"
        }
        guard let leader = cluster.stableLeader, let commit = cluster.raft(leader)?.commitIndex else {
            return cluster.violation ?? "no stable leader for the final checks"
        }
        let members = cluster.liveMembers
        cluster.run(upTo: 300) { cluster in
            members.allSatisfy { (cluster.nodes[$0].engine?.machine.appliedIndex ?? 0) >= commit }
        }
        if let violation = cluster.violation { return violation }
        for node in members {
            guard let machine = cluster.nodes[node].engine?.machine, machine.appliedIndex >= commit else {
                return "liveness: member \(node) did not apply through \(commit) after healing"
            }
            let state = machine.state
            for client in clients {
                let record = state.keys[client.key]
                let expected = client.completed == 0 ? nil : "\(client.completed)"
                if record?.value != expected || (record?.version ?? 0) != client.completed {
                    return "exactly-once: on node \(node), \(client.key) is \(Self.describe(record)) after \(client.completed) answered writes"
                }
                if state.keys["probe/\(client.name)"] != nil {
                    return "exactly-once: on node \(node), a stale write of client \(client.name) was applied"
                }
            }
            if let problem = Self.halfTransaction(in: state.page(Self.pairRange).entries) {
                return "a range over pair/ saw half a transaction on node \(node) at the end: \(problem)"
            }
        }
        return nil
    }
}

/// A client with a session: one write at a time, retried with the same seq until answered.
final class SessionClient {
    let name: String
    var key: String { "sess/\(name)" }
    /// The last seq answered, and the modRevision its write left.
    var completed: Int64 = 0
    var modRevision: Int64 = 0
    /// The seq being written, not answered yet.
    var outstanding: Int64?
    var needsRetry = false
    var attempts = 0
    var lastAttemptTick = 0
    var commands: [Int64: KVCommand] = [:]
    var answers: [Int64: KVResult] = [:]

    init(name: String) {
        self.name = name
    }
}
