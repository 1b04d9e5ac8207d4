import RaftCore
import RaftEngine

/// One simulated server: its disk, which survives crashes, and — while it runs — the production
/// engine (core, stores, state machine, pipeline) built from that disk.
final class SimNode<Machine: SimulatedMachine> {
    let id: NodeID
    let disk: SimDisk<Machine>
    var engine: NodeEngine<Machine>?
    /// Bumped on every restart so that timer events of an earlier life are ignored.
    var incarnation = 0
    /// Removed from the cluster and stopped for good.
    var retired = false
    /// How far the gap-free apply check has read the machine's applied list.
    var checkedMachineBase = -1
    var checkedApplied = 0
    /// How far the state-machine safety check has read the machine's state digests.
    var checkedDigests = 0
    /// Messages that arrived while the node was stuck in a slow write.
    var inbox: [Envelope] = []
    var drainScheduled = false
    /// The configuration in force when the current step began.
    var configurationBefore = ClusterConfiguration.empty

    init(id: NodeID, disk: SimDisk<Machine>) {
        self.id = id
        self.disk = disk
    }

    var isAlive: Bool { engine != nil }
    var raft: RaftNode? { engine?.raft }
}

extension SimNode where Machine == SimMachine {
    var appliedCommands: [String] { engine?.machine.commands ?? [] }
}
