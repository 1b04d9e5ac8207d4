import RaftCore
import FlightRecording
import RaftStorage

extension NodeEngine {
    /// Builds a node from what its stores hold — meta, snapshot, then the log that continues the
    /// snapshot — and returns it with what was found. Throws when the files cannot be trusted;
    /// the node must then stay down.
    ///
    /// After a crash between saving a snapshot and cutting the log, the log may still hold
    /// entries the snapshot covers (they are cut now), or, after an InstallSnapshot, a suffix of
    /// a history the snapshot replaced (it is dropped).
    public static func start(id: NodeID, bootstrap: ClusterConfiguration, raftConfig: RaftConfig, stores: NodeStores,
                             seed: UInt64, hooks: EngineHooks, executor: EngineExecutor, snapshotEveryEntries: Int,
                             logName: String, recorder: (any CoreRecorder)? = nil) throws -> (NodeEngine, LoadReport) {
        do {
            let hardState = try stores.meta.load()
            let snapshot = try stores.snapshot.load()
            let loaded = try stores.log.load()
            let base = (index: snapshot?.index ?? 0, term: snapshot?.term ?? 0)
            guard let restoring = RaftLog.restoring(snapshotIndex: base.index, snapshotTerm: base.term, stored: loaded.entries) else {
                throw StorageError.damaged(file: logName, line: 1,
                                           reason: "the log starts at entry \(loaded.entries.first?.index ?? 0), leaving a gap after the snapshot through \(base.index)")
            }
            if restoring.droppedStale {
                try stores.log.replace(with: [])
            } else if let first = loaded.entries.first, first.index <= base.index {
                try stores.log.compact(through: base.index)
            }
            // The core needs only the snapshot's index, term and configuration: Raft runs at once,
            // and the state machine is built from the snapshot's bytes in the background.
            let raft = RaftNode(id: id, bootstrap: bootstrap, config: raftConfig, hardState: hardState,
                                log: restoring.log, snapshot: snapshot, seed: seed)
            let engine = NodeEngine(raft: raft, stores: stores, machine: Machine(), hooks: hooks, executor: executor,
                                    snapshotEveryEntries: snapshotEveryEntries, recorder: recorder)
            engine.nextReadID = firstReadID(seed: seed)
            let report = LoadReport(hardState: hardState, snapshotIndex: snapshot?.index, snapshotBytes: snapshot?.data.count ?? 0,
                                    entriesReplayed: restoring.log.entries.count, droppedTornTail: loaded.droppedTornTail,
                                    droppedStaleSuffix: restoring.droppedStale)
            if let recorder {
                recorder.started(core: raft, loaded: LoadSummary(
                    hardState: hardState, snapshotIndex: snapshot?.index, entries: report.entriesReplayed,
                    droppedTornTail: report.droppedTornTail, droppedStaleSuffix: report.droppedStaleSuffix))
                recorder.drain()
            }
            if let snapshot { engine.beginInstall(snapshot, atStart: true) }
            return (engine, report)
        } catch {
            stores.log.close()
            throw error
        }
    }

    /// Where a node's read ids begin in this life: drawn from its seed (which differs on every
    /// start), below 2^52 so that they stay exact as JSON numbers, with room to count up.
    static func firstReadID(seed: UInt64) -> UInt64 {
        var generator = SplitMix64(seed: seed ^ 0x7265_6164_2069_6473)
        return (generator.next() >> 12) | 1
    }
}
