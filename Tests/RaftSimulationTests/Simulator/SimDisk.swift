import RaftCore
import RaftEngine
import RaftStorage
import RaftVerification

/// One simulated node's disk: term and vote, snapshot, log — what survives a crash — behind the
/// same store protocols the server's files implement, so the engine under simulation is the
/// production pipeline. It can be told to fail the way disks fail:
///
/// - a power cut during a write (`armCrash`): one of the next writes is cut short — the meta file
///   is atomic (old or new), a log write keeps a prefix of its entries — and the node dies;
/// - a crash between saving a snapshot and cutting the log (`crashOnCompactionRate`);
/// - a full disk (`full`): every write fails, so the node stops, until it is cleared;
/// - a slow disk (`slowUnits`): every write keeps the node busy that many time units.
///
/// Every write is shown to the safety checker first.
final class SimDisk<Machine: SimulatedMachine> {
    let node: NodeID
    let bootstrap: ClusterConfiguration
    unowned let cluster: Simulation<Machine>
    private(set) var model: DiskModel
    var hardState: HardState { model.hardState }
    var snapshot: Snapshot? { model.snapshot }
    var log: [Entry] { model.log }

    var crashArmed = false
    /// The node is starting (loading, tidying its log): no crash strikes then.
    var starting = false
    var crashOnCompactionRate = 0.0
    var full = false
    var slowUnits = 0
    /// Simulated time until which the node is busy writing.
    private(set) var busyUntil = 0

    init(node: NodeID, bootstrap: ClusterConfiguration, cluster: Simulation<Machine>) {
        self.node = node
        self.bootstrap = bootstrap
        self.cluster = cluster
        self.model = DiskModel(bootstrap: bootstrap)
    }

    var stores: NodeStores {
        NodeStores(log: SimLogStore(disk: self), meta: SimMetaStore(disk: self), snapshot: SimSnapshotStore(disk: self))
    }

    /// What a restart would find.
    var view: DurableView { model.view() }

    static var powerFailure: StorageError { .io(file: "simulated disk", operation: "power failure", errno: 5) }
    static var noSpace: StorageError { .io(file: "simulated disk", operation: "write", errno: 28) }

    /// Before every write: a full disk refuses; an armed crash may strike now. Returns true when
    /// this write is the one cut short (the caller applies what survives, then throws).
    fileprivate func beginWrite() throws(StorageError) -> Bool {
        if starting { return false }
        if full { throw Self.noSpace }
        if slowUnits > 0 { busyUntil = max(busyUntil, cluster.now) + slowUnits }
        guard crashArmed, cluster.chance(0.5) else { return false }
        crashArmed = false
        return true
    }

    fileprivate func writeMeta(_ state: HardState) throws(StorageError) {
        if try beginWrite() {
            // The meta file is replaced atomically: the crash keeps the old one or the new one.
            if cluster.chance(0.5) { applyMeta(state) }
            throw Self.powerFailure
        }
        applyMeta(state)
    }

    private func applyMeta(_ state: HardState) {
        cluster.checker.checkHardStateWrite(node: node, old: hardState, new: state)
        model.saveHardState(state)
    }

    fileprivate func writeEntries(_ entries: [Entry]) throws(StorageError) {
        guard let first = entries.first else { return }
        let crash = try beginWrite()
        cluster.checker.checkWrittenEntries(node: node, entries: entries, previousTerm: view.term(at: first.index - 1))
        let kept = crash ? Int.random(in: 0...entries.count, using: &cluster.randomSource) : entries.count
        model.truncate(from: first.index)
        model.write(entries.prefix(kept))
        if crash { throw Self.powerFailure }
    }

    fileprivate func replaceLog(_ entries: [Entry]) throws(StorageError) {
        if try beginWrite() { throw Self.powerFailure }  // the old log survives the interrupted rewrite
        model.replaceLog(entries)
    }

    fileprivate func compactLog(through index: LogIndex) throws(StorageError) {
        if !starting && crashOnCompactionRate > 0 && cluster.chance(crashOnCompactionRate) {
            cluster.trace?("t\(cluster.now) CRASH node \(node) after saving a snapshot, before cutting its log")
            throw Self.powerFailure
        }
        model.compact(through: index)
    }

    fileprivate func saveSnapshot(_ new: Snapshot) throws(StorageError) {
        if try beginWrite() { throw Self.powerFailure }  // the old snapshot survives
        cluster.snapshotsToCheck.append((node, new))
        model.saveSnapshot(new)
    }
}

final class SimLogStore<Machine: SimulatedMachine>: LogStore {
    let disk: SimDisk<Machine>
    init(disk: SimDisk<Machine>) { self.disk = disk }

    func load() throws(StorageError) -> LoadedLog { LoadedLog(entries: disk.log) }
    func write(_ entries: [Entry]) throws(StorageError) { try disk.writeEntries(entries) }
    func compact(through index: LogIndex) throws(StorageError) { try disk.compactLog(through: index) }
    func replace(with entries: [Entry]) throws(StorageError) { try disk.replaceLog(entries) }
    func close() {}
}

final class SimMetaStore<Machine: SimulatedMachine>: MetaStore {
    let disk: SimDisk<Machine>
    init(disk: SimDisk<Machine>) { self.disk = disk }

    func load() throws(StorageError) -> HardState { disk.hardState }
    func save(_ state: HardState) throws(StorageError) { try disk.writeMeta(state) }
}

/// @unchecked Sendable: the simulator is single-threaded.
final class SimSnapshotStore<Machine: SimulatedMachine>: SnapshotStore, @unchecked Sendable {
    let disk: SimDisk<Machine>
    init(disk: SimDisk<Machine>) { self.disk = disk }

    func load() throws(StorageError) -> Snapshot? { disk.snapshot }
    func prepare(index: LogIndex, term: Term, configuration: ClusterConfiguration?,
                 writing write: (any SnapshotSink) throws -> Void) throws(StorageError) -> PreparedSnapshot {
        let sink = MemorySnapshotSink()
        do { try write(sink) } catch { throw .damaged(file: "sim", line: 0, reason: "\(error)") }
        return PreparedSnapshot(snapshot: Snapshot(index: index, term: term, data: sink.bytes, configuration: configuration),
                                temporaryPath: nil)
    }
    func commit(_ prepared: PreparedSnapshot) throws(StorageError) -> Bool {
        guard prepared.snapshot.index > (disk.snapshot?.index ?? 0) else { return false }
        try disk.saveSnapshot(prepared.snapshot)
        return true
    }
    func discard(_ prepared: PreparedSnapshot) {}
}
