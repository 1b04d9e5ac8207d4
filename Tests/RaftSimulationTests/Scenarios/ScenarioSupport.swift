import RaftCore
import Testing

/// Small helpers shared by the named scenarios.
extension Simulation {
    /// Waits for a leader every live node follows; records a test issue when none comes.
    func awaitStableLeader(withinTicks ticks: Int = 100, sourceLocation: SourceLocation = #_sourceLocation) -> NodeID? {
        let found = run(upTo: ticks) { $0.stableLeader != nil }
        #expect(violation == nil, "\(violation ?? "")", sourceLocation: sourceLocation)
        #expect(found, "no stable leader within \(ticks) ticks (seed \(seed))", sourceLocation: sourceLocation)
        return found ? stableLeader : nil
    }

    func term(of node: NodeID) -> Term { raft(node)?.term ?? nodes[node].disk.hardState.term }
}

extension SimCluster {
    /// Waits until every node in `nodes` has applied every command in `commands`.
    func awaitApplied(_ commands: [String], on nodes: [NodeID], withinTicks ticks: Int = 100) -> Bool {
        run(upTo: ticks) { cluster in
            nodes.allSatisfy { node in
                let applied = cluster.appliedCommands(node)
                return commands.allSatisfy(applied.contains)
            }
        }
    }

    /// Proposes `commands` at `node`, expecting each to be accepted.
    func proposeAll(_ commands: [String], at node: NodeID, sourceLocation: SourceLocation = #_sourceLocation) {
        for command in commands {
            let result = propose(at: node, command)
            guard case .accepted = result else {
                Issue.record("proposal \(command) at \(node) was not accepted: \(String(describing: result))", sourceLocation: sourceLocation)
                return
            }
        }
    }
}

/// Seeds for scenarios that run over several seeds.
let scenarioSeeds: [UInt64] = [1, 2, 3, 7, 11, 19, 23, 42]

extension Result {
    var failureValue: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

extension Simulation {
    /// Waits for a stable leader that has committed an entry of its own term (so it may change
    /// the membership), and returns it.
    func awaitLeaderReadyForChanges(withinTicks ticks: Int = 200, sourceLocation: SourceLocation = #_sourceLocation) -> NodeID? {
        let found = run(upTo: ticks) { cluster in
            guard let leader = cluster.stableLeader, let raft = cluster.raft(leader) else { return false }
            return raft.log.term(at: raft.commitIndex) == raft.term
        }
        #expect(found, "no leader ready for membership changes within \(ticks) ticks (seed \(seed))", sourceLocation: sourceLocation)
        return found ? stableLeader : nil
    }
}
