import RaftCore

/// What one node's disk holds, kept up to date write by write as the pipeline performs a Ready:
/// term and vote, the snapshot, the log after it. The simulator's disk and the replay both keep
/// one; `view` is what the safety checks (and a restart) see.
public struct DiskModel: Sendable {
    public let bootstrap: ClusterConfiguration
    public private(set) var hardState: HardState
    public private(set) var snapshot: Snapshot?
    public private(set) var log: [Entry]
    /// The last configuration entry in `log` (nil: none), kept so a view needs no scan.
    private var latestConfiguration: ClusterConfiguration?
    private var cachedView: DurableView?

    public init(bootstrap: ClusterConfiguration, hardState: HardState = HardState(), snapshot: Snapshot? = nil, log: [Entry] = []) {
        self.bootstrap = bootstrap
        self.hardState = hardState
        self.snapshot = snapshot
        self.log = log
        self.latestConfiguration = log.last { $0.isConfiguration }?.configuration
    }

    /// What a restart would find.
    public mutating func view() -> DurableView {
        if let cachedView { return cachedView }
        let view = DurableView(hardState: hardState, snapshot: snapshot, entries: log, bootstrap: bootstrap,
                               latestConfiguration: .some(latestConfiguration))
        cachedView = view
        return view
    }

    public mutating func saveHardState(_ state: HardState) {
        hardState = state
        cachedView = nil
    }

    /// Drops every stored entry at or after the first written one, then appends.
    public mutating func write(_ entries: some Collection<Entry>) {
        guard let first = entries.first else { return }
        truncate(from: first.index)
        for entry in entries {
            log.append(entry)
            if let configuration = entry.configuration { latestConfiguration = configuration }
        }
        cachedView = nil
    }

    /// Drops every stored entry at or after `index`.
    public mutating func truncate(from index: LogIndex) {
        guard let position = log.firstIndex(where: { $0.index >= index }) else { return }
        let cut = log[position...]
        log.removeSubrange(position...)
        if cut.contains(where: \.isConfiguration) { latestConfiguration = log.last { $0.isConfiguration }?.configuration }
        cachedView = nil
    }

    public mutating func replaceLog(_ entries: [Entry]) {
        log = entries
        latestConfiguration = log.last { $0.isConfiguration }?.configuration
        cachedView = nil
    }

    public mutating func compact(through index: LogIndex) {
        log.removeAll { $0.index <= index }
        latestConfiguration = log.last { $0.isConfiguration }?.configuration
        cachedView = nil
    }

    public mutating func saveSnapshot(_ new: Snapshot) {
        snapshot = new
        cachedView = nil
    }
}
