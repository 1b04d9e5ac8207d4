import FlightRecording
import RaftCore

/// A randomized run's parameters, all drawn from its seed ("swarm testing": each seed also picks
/// which faults are on and how hard they hit, so rare combinations get their turn).
struct Swarm: CustomStringConvertible {
    var clusterSize: Int
    var faults: NetworkFaults
    var faultTicks: Int
    var crashRate: Double
    var tornWriteShare: Double
    var restartRate: Double
    var partitionRate: Double
    var healRate: Double
    var faultChangeRate: Double
    var proposalRate: Double
    var proposalsAtLeaderShare: Double
    /// The core's own knobs vary too: one entry per append and a window of one expose
    /// interleavings (a follower matching only an earlier term's entry) that big batches hide.
    var raftConfig: RaftConfig
    /// Snapshot every this many applied entries (0: never), and linearizable reads per tick.
    var snapshotEvery: Int
    var crashAfterSnapshotRate: Double
    var readRate: Double
    /// Membership changes (add, remove, transfer) per tick while a leader exists, and at most
    /// this many nodes ever.
    var membershipRate: Double
    var maxNodes: Int
    /// Disk faults: a node's disk goes full or slow, and back.
    var diskFaultRate: Double

    init(seed: UInt64) {
        var random = SplitMix64(seed: seed ^ 0xA5A5_5A5A_DEAD_BEEF)
        func unit() -> Double { Double.random(in: 0..<1, using: &random) }
        let sizeRoll = unit()
        clusterSize = sizeRoll < 0.5 ? 3 : (sizeRoll < 0.8 ? 5 : 7)
        faults = NetworkFaults(
            dropRate: unit() < 0.2 ? 0 : unit() * 0.3,
            duplicateRate: unit() < 0.5 ? 0 : unit() * 0.1,
            minDelay: 1,
            maxDelay: 1 + Int(unit() * 15),
            longDelayRate: unit() < 0.5 ? 0 : unit() * 0.1,
            longDelay: 40 + Int(unit() * 200))
        faultTicks = 150 + Int(unit() * 250)
        crashRate = unit() < 0.25 ? 0 : unit() * 0.03
        tornWriteShare = unit() * 0.6
        restartRate = 0.02 + unit() * 0.1
        partitionRate = unit() < 0.25 ? 0 : unit() * 0.03
        healRate = 0.02 + unit() * 0.08
        faultChangeRate = unit() * 0.02
        proposalRate = 0.1 + unit() * 1.5
        proposalsAtLeaderShare = 0.5 + unit() * 0.5
        snapshotEvery = unit() < 0.3 ? 0 : 3 + Int(unit() * 40)
        crashAfterSnapshotRate = unit() < 0.5 ? 0 : unit() * 0.2
        readRate = unit() < 0.3 ? 0 : unit() * 1.0
        let chunkChoices = [8, 64, 1024, 1 << 20]
        let batchChoices = [1, 1, 2, 4, 64, 512]
        let windowChoices = [1, 2, 8, 64]
        raftConfig = RaftConfig(
            heartbeatTicks: unit() < 0.7 ? 1 : 3,
            electionTicksMin: 10,
            electionTicksMax: 20,
            maxEntriesPerAppend: batchChoices[Int(unit() * Double(batchChoices.count))],
            maxInflightAppends: windowChoices[Int(unit() * Double(windowChoices.count))],
            snapshotChunkBytes: chunkChoices[Int(unit() * Double(chunkChoices.count))],
            learnerCatchUpEntries: unit() < 0.5 ? 0 : Int(unit() * 20))
        membershipRate = unit() < 0.4 ? 0 : unit() * 0.08
        maxNodes = clusterSize + 1 + Int(unit() * 3)
        diskFaultRate = unit() < 0.6 ? 0 : unit() * 0.01
        // A tail kept before each snapshot: none (every follower behind a snapshot gets one), or a few entries.
        raftConfig.snapshotCatchUpEntries = unit() < 0.5 ? 0 : Int(unit() * 12)
    }

    var description: String {
        "\(clusterSize) nodes (up to \(maxNodes)), \(raftConfig.maxEntriesPerAppend)/append, window \(raftConfig.maxInflightAppends), snapshot every \(snapshotEvery) in \(raftConfig.snapshotChunkBytes)-byte chunks (tail \(raftConfig.snapshotCatchUpEntries)), reads \(readRate.formatted2)/tick, \(faultTicks) fault ticks, net {\(faults)}, crash \(crashRate.formatted2), partition \(partitionRate.formatted2), membership \(membershipRate.formatted2), disk faults \(diskFaultRate.formatted2), proposals/tick \(proposalRate.formatted2)"
    }
}

/// The outcome of one randomized run.
struct SimulationReport {
    var seed: UInt64
    var swarm: Swarm
    var failure: String?
    var ticks: Int
    var steps: Int
    var messages: Int
    var committed: Int
    var reads: Int
    var snapshotsInstalled: Int
    var membershipChanges: Int
    /// The nodes' flight recordings, when the run recorded.
    var recordings: [NodeTrace] = []
    /// States compared between nodes (state-machine safety), and the workload's own figures.
    var statesCompared = 0
    var workload = ""

    var summary: String {
        "seed \(seed) (\(swarm)): \(failure ?? "ok") after \(steps) steps, \(ticks) ticks"
    }
}

/// What the clients of a randomized run do: propose during the fault phase, and check what they
/// saw once the cluster has healed.
protocol SimWorkload: AnyObject {
    associatedtype Machine: SimulatedMachine
    /// Hooks itself into the run's cluster, before anything happens.
    func attach(to cluster: Simulation<Machine>, swarm: Swarm)
    /// One client proposal of the fault phase (`number` counts them from 1).
    func propose(_ number: Int, in cluster: Simulation<Machine>, swarm: Swarm)
    /// Once per tick of the fault phase, after the proposals.
    func tick(_ cluster: Simulation<Machine>)
    /// Once the healed cluster has applied the liveness proposals on every member: the workload's
    /// own checks (nil: all is well).
    func finish(_ cluster: Simulation<Machine>) -> String?
    /// Its figures, for the batch summaries.
    var summary: String { get }
}

/// The plain workload: numbered commands, at the leader or at anyone.
final class CommandListWorkload: SimWorkload {
    func attach(to cluster: SimCluster, swarm: Swarm) {}

    func propose(_ number: Int, in cluster: SimCluster, swarm: Swarm) {
        let target: NodeID
        if let leader = cluster.leader, cluster.chance(swarm.proposalsAtLeaderShare) {
            target = leader
        } else {
            target = Int.random(in: 0..<cluster.clusterSize, using: &cluster.randomSource)
        }
        cluster.propose(at: target, "c\(number)")
    }

    func tick(_ cluster: SimCluster) {}
    func finish(_ cluster: SimCluster) -> String? { nil }
    var summary: String { "" }
}

/// Runs one seed: a fault phase where everything can go wrong, then a healed phase that must
/// elect a leader and commit every new proposal on every member within a tick budget.
enum RandomizedSimulation {
    static let electionBudgetTicks = 300
    static let commitBudgetTicks = 300
    static let livenessProposals = 5

    static func run(seed: UInt64, trace: ((String) -> Void)? = nil, recordCapacity: Int? = nil) -> SimulationReport {
        run(seed: seed, swarm: Swarm(seed: seed), workload: CommandListWorkload(), trace: trace, recordCapacity: recordCapacity)
    }

    static func run<Workload: SimWorkload>(seed: UInt64, swarm: Swarm, workload: Workload, trace: ((String) -> Void)? = nil,
                                           recordCapacity: Int? = nil) -> SimulationReport {
        let cluster = Simulation<Workload.Machine>(seed: seed, clusterSize: swarm.clusterSize, config: swarm.raftConfig,
                                                   recordCapacity: recordCapacity)
        cluster.trace = trace
        cluster.faults = swarm.faults
        cluster.snapshotEvery = swarm.snapshotEvery
        cluster.crashAfterSnapshotRate = swarm.crashAfterSnapshotRate
        workload.attach(to: cluster, swarm: swarm)
        var commandNumber = 0
        var proposalCredit = 0.0
        var readCredit = 0.0

        for _ in 0..<swarm.faultTicks {
            cluster.run(ticks: 1)
            if cluster.violation != nil { break }
            injectFaults(cluster, swarm)
            changeMembership(cluster, swarm)
            proposalCredit += swarm.proposalRate
            while proposalCredit >= 1 {
                proposalCredit -= 1
                commandNumber += 1
                workload.propose(commandNumber, in: cluster, swarm: swarm)
            }
            workload.tick(cluster)
            readCredit += swarm.readRate
            while readCredit >= 1 {
                readCredit -= 1
                // Ask whoever believes it leads, deposed leaders included: they must not answer.
                let leaders = cluster.liveNodes.filter { cluster.raft($0)?.isLeader == true }
                if let target = leaders.randomElement(using: &cluster.randomSource) {
                    cluster.read(at: target)
                }
            }
        }

        var failure = cluster.violation
        if failure == nil {
            failure = checkLiveness(cluster, firstCommand: commandNumber + 1)
        }
        if failure == nil {
            failure = workload.finish(cluster)
        }
        if failure == nil, let violation = cluster.violation {
            failure = violation
        }
        return SimulationReport(seed: seed, swarm: swarm, failure: failure, ticks: cluster.ticks,
                                steps: cluster.steps, messages: cluster.messagesSent,
                                committed: cluster.committedPrefix.count, reads: cluster.readsAnswered,
                                snapshotsInstalled: cluster.snapshotsInstalled, membershipChanges: cluster.membershipChanges,
                                recordings: cluster.recordings(), statesCompared: cluster.stateDigestsCompared,
                                workload: workload.summary)
    }

    private static func injectFaults<Machine>(_ cluster: Simulation<Machine>, _ swarm: Swarm) {
        let size = cluster.clusterSize
        if swarm.crashRate > 0 && cluster.chance(swarm.crashRate) {
            // Leaders are the interesting victims.
            let victim = cluster.leader.flatMap { cluster.chance(0.5) ? $0 : nil }
                ?? Int.random(in: 0..<size, using: &cluster.randomSource)
            if cluster.chance(swarm.tornWriteShare) {
                cluster.crashDuringNextWrite(victim)
            } else {
                cluster.crash(victim)
            }
        }
        for node in 0..<size where !cluster.nodes[node].isAlive && cluster.chance(swarm.restartRate) {
            cluster.restart(node)
        }
        if swarm.partitionRate > 0 && cluster.chance(swarm.partitionRate) {
            cluster.setPartition(randomGroups(cluster))
        }
        if !cluster.partition.isWhole && cluster.chance(swarm.healRate) {
            cluster.healPartition()
        }
        if swarm.faultChangeRate > 0 && cluster.chance(swarm.faultChangeRate) {
            cluster.faults.dropRate = cluster.chance(0.3) ? 0.5 : Double.random(in: 0..<0.3, using: &cluster.randomSource)
        }
        if swarm.diskFaultRate > 0 && cluster.chance(swarm.diskFaultRate) {
            let node = Int.random(in: 0..<size, using: &cluster.randomSource)
            let disk = cluster.nodes[node].disk
            if disk.full || disk.slowUnits > 0 {
                cluster.setDisk(node, full: false, slowUnits: 0)
                cluster.restart(node)  // a node its full disk stopped comes back once the disk works
            } else if cluster.chance(0.5) {
                cluster.setDisk(node, full: true, slowUnits: 0)
            } else {
                cluster.setDisk(node, full: false, slowUnits: SimTime.unitsPerTick * Int.random(in: 1...30, using: &cluster.randomSource))
            }
        }
    }

    /// While a leader exists: add a new node (as a learner promoted once caught up), remove a
    /// member (moving leadership away first when it is the leader), hand leadership over, or
    /// retire a node that is no longer a member.
    private static func changeMembership<Machine>(_ cluster: Simulation<Machine>, _ swarm: Swarm) {
        guard swarm.membershipRate > 0, cluster.chance(swarm.membershipRate), let leader = cluster.leader,
              let raft = cluster.raft(leader) else { return }
        let configuration = raft.configuration
        let roll = Double.random(in: 0..<1, using: &cluster.randomSource)
        if roll < 0.35 && cluster.clusterSize < swarm.maxNodes {
            let node = cluster.addNode()
            cluster.changeMembership(at: leader, .addLearner(id: node, context: "", promoteWhenCaughtUp: true))
        } else if roll < 0.7 {
            let members = configuration.ids
            guard let target = members.randomElement(using: &cluster.randomSource) else { return }
            if target == leader {
                if let other = configuration.voters.filter({ $0 != leader }).randomElement(using: &cluster.randomSource) {
                    cluster.transferLeadership(from: leader, to: other)
                }
            } else {
                cluster.changeMembership(at: leader, .remove(id: target))
            }
        } else if roll < 0.9 {
            if let other = configuration.voters.filter({ $0 != leader }).randomElement(using: &cluster.randomSource) {
                cluster.transferLeadership(from: leader, to: other)
            }
        } else {
            // A node outside the committed configuration stops for good (or keeps running, to
            // show it does not disturb the others).
            let committed = cluster.checker.committedConfiguration
            let outsiders = cluster.liveNodes.filter { !committed.contains($0) && !configuration.contains($0) }
            if let node = outsiders.randomElement(using: &cluster.randomSource) { cluster.retire(node) }
        }
    }

    /// Two or three groups; half the time the current leader is put in a minority.
    private static func randomGroups<Machine>(_ cluster: Simulation<Machine>) -> [[NodeID]] {
        var nodes = Array(0..<cluster.clusterSize)
        nodes.shuffle(using: &cluster.randomSource)
        if let leader = cluster.leader, cluster.chance(0.5) {
            nodes.removeAll { $0 == leader }
            let minority = Int.random(in: 0...max(0, cluster.clusterSize / 2 - 1), using: &cluster.randomSource)
            let leaderSide = [leader] + nodes.prefix(minority)
            return [leaderSide, Array(nodes.dropFirst(minority))]
        }
        let groups = cluster.chance(0.3) ? 3 : 2
        var result = Array(repeating: [NodeID](), count: groups)
        for (position, node) in nodes.enumerated() { result[position % groups].append(node) }
        return result
    }

    /// After healing: a leader that every member follows, then every new proposal applied on
    /// every member (voters and learners).
    private static func checkLiveness<Machine>(_ cluster: Simulation<Machine>, firstCommand: Int) -> String? {
        cluster.healEverything()
        // A leader cut off until now may still step down (CheckQuorum) in its first election
        // timeout after healing; settle for two timeouts before holding the cluster to account.
        cluster.run(ticks: 2 * cluster.config.electionTicksMax)
        // A write that began on a slow disk before healing still takes its time (several slow
        // syncs can be queued, as when a snapshot is committed): wait for the leader to be free.
        let settled = cluster.run(upTo: electionBudgetTicks) { cluster in
            guard let leader = cluster.stableLeader else { return false }
            return cluster.nodes[leader].disk.busyUntil <= cluster.now
        }
        guard settled, let leader = cluster.stableLeader else {
            return cluster.violation ?? "liveness: no stable leader within \(electionBudgetTicks) ticks of healing"
        }
        let commands = (0..<livenessProposals).map { Machine.livenessCommand(firstCommand + $0) }
        var lastIndex = 0
        for command in commands {
            guard case .accepted(let index, _)? = cluster.propose(at: leader, command) else {
                return "liveness: stable leader \(leader) refused a proposal"
            }
            lastIndex = index
        }
        // Cheap while running (indexes); exact once done (the commands themselves).
        let reached = cluster.run(upTo: commitBudgetTicks) { cluster in
            cluster.liveMembers.allSatisfy { (cluster.nodes[$0].engine?.machine.appliedIndex ?? 0) >= lastIndex }
        }
        let members = cluster.liveMembers
        let missing = members.filter { node in
            !(cluster.nodes[node].engine?.machine.shows(commands) ?? false)
        }
        if !reached || !missing.isEmpty {
            return cluster.violation ?? "liveness: proposals made after healing were not applied on members \(missing) within \(commitBudgetTicks) ticks"
        }
        return nil
    }
}
