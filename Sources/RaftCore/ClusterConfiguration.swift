/// One member of a cluster configuration.
public struct Member: Sendable, Equatable, Codable, CustomStringConvertible {
    public var id: NodeID
    /// Voters elect leaders and count toward every quorum; learners only receive the log.
    public var isVoter: Bool
    /// A learner the leader makes a voter once its log is within `RaftConfig.learnerCatchUpEntries`
    /// of the leader's (how `add` brings a node in without weakening any quorum meanwhile).
    public var promoteWhenCaughtUp: Bool
    /// Opaque to the core: the runtime keeps the member's addresses here.
    public var context: String

    public init(id: NodeID, isVoter: Bool, promoteWhenCaughtUp: Bool = false, context: String = "") {
        self.id = id
        self.isVoter = isVoter
        self.promoteWhenCaughtUp = promoteWhenCaughtUp && !isVoter
        self.context = context
    }

    public var description: String { isVoter ? "\(id)" : "\(id)(learner)" }
}

/// The members of a cluster, voters and learners, sorted by id. It is data: it travels in log
/// entries and snapshots, and every quorum is counted against it, never against a fixed size.
public struct ClusterConfiguration: Sendable, Equatable, Codable, CustomStringConvertible {
    public private(set) var members: [Member]

    public init(members: [Member]) {
        var sorted: [Member] = []
        for member in members.sorted(by: { $0.id < $1.id }) where sorted.last?.id != member.id {
            precondition(member.id >= 0, "node ids are non-negative")
            sorted.append(member)
        }
        self.members = sorted
    }

    /// Every id a voter.
    public static func voters(_ ids: [NodeID]) -> ClusterConfiguration {
        ClusterConfiguration(members: ids.map { Member(id: $0, isVoter: true) })
    }

    /// No members: a node waiting to be added knows no configuration yet.
    public static let empty = ClusterConfiguration(members: [])

    public var voters: [NodeID] { members.compactMap { $0.isVoter ? $0.id : nil } }
    public var learners: [NodeID] { members.filter { !$0.isVoter }.map(\.id) }
    public var ids: [NodeID] { members.map(\.id) }

    public func member(_ id: NodeID) -> Member? { members.first { $0.id == id } }
    public func contains(_ id: NodeID) -> Bool { members.contains { $0.id == id } }
    public func isVoter(_ id: NodeID) -> Bool { members.contains { $0.id == id && $0.isVoter } }

    /// The configuration after `change`, or why the change cannot be made.
    public func applying(_ change: ConfigurationChange) -> Result<ClusterConfiguration, ConfigurationChangeError> {
        var members = self.members
        switch change {
        case .addLearner(let id, let context, let promote):
            guard id >= 0 else { return .failure(.invalid("node ids are non-negative")) }
            guard !contains(id) else { return .failure(.invalid("node \(id) is already a member")) }
            members.append(Member(id: id, isVoter: false, promoteWhenCaughtUp: promote, context: context))
        case .promote(let id):
            guard let position = members.firstIndex(where: { $0.id == id }) else {
                return .failure(.invalid("node \(id) is not a member"))
            }
            guard !members[position].isVoter else { return .failure(.invalid("node \(id) is already a voter")) }
            members[position].isVoter = true
            members[position].promoteWhenCaughtUp = false
        case .remove(let id):
            guard let position = members.firstIndex(where: { $0.id == id }) else {
                return .failure(.invalid("node \(id) is not a member"))
            }
            if members[position].isVoter && voters.count == 1 {
                return .failure(.invalid("node \(id) is the last voter; a cluster needs one"))
            }
            members.remove(at: position)
        }
        return .success(ClusterConfiguration(members: members))
    }

    public var description: String {
        let learners = self.learners
        return "voters [\(voters.map(String.init).joined(separator: ","))]"
            + (learners.isEmpty ? "" : " learners [\(learners.map(String.init).joined(separator: ","))]")
    }
}

/// One membership change: the single-server method (thesis §4.1), one node at a time.
public enum ConfigurationChange: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Adds a learner; with `promoteWhenCaughtUp` the leader makes it a voter once it has caught up.
    case addLearner(id: NodeID, context: String, promoteWhenCaughtUp: Bool)
    case promote(id: NodeID)
    case remove(id: NodeID)

    public var node: NodeID {
        switch self {
        case .addLearner(let id, _, _), .promote(let id), .remove(let id): return id
        }
    }

    public var description: String {
        switch self {
        case .addLearner(let id, _, let promote): return "add \(id) as a learner\(promote ? " (voter once caught up)" : "")"
        case .promote(let id): return "promote \(id) to voter"
        case .remove(let id): return "remove \(id)"
        }
    }
}

/// Why a membership change was refused. Nothing was appended in any case.
public enum ConfigurationChangeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// This node does not lead (or is handing leadership over).
    case notLeader(leaderHint: NodeID?)
    /// An earlier change is not committed yet: one change at a time.
    case changeInProgress(index: LogIndex)
    /// This leader has not yet committed an entry of its own term; until it has, it cannot know
    /// that no other change is pending in the cluster (the single-server rule's fix). Try again shortly.
    case leaderNotReady
    /// The leader cannot remove itself: transfer leadership first.
    case removingLeader
    case invalid(String)

    public var description: String {
        switch self {
        case .notLeader(let hint): return "not the leader" + (hint.map { " (node \($0) leads)" } ?? "")
        case .changeInProgress(let index): return "the membership change at entry \(index) is not committed yet"
        case .leaderNotReady: return "the new leader has not committed an entry of its term yet"
        case .removingLeader: return "the leader cannot remove itself; transfer leadership first"
        case .invalid(let reason): return reason
        }
    }
}

/// The configurations a node's log holds: the one in force at the snapshot (`base`), then one
/// per configuration entry, in index order. The latest is in force, committed or not; cutting
/// the log's tail falls back to the one before (thesis §4.1).
struct ConfigurationHistory: Sendable, Equatable, Codable {
    private(set) var base: ClusterConfiguration
    private(set) var changes: [(index: LogIndex, configuration: ClusterConfiguration)] = []

    init(base: ClusterConfiguration) {
        self.base = base
    }

    var latest: ClusterConfiguration { changes.last?.configuration ?? base }
    /// The index of the latest configuration entry (0 when the base is in force).
    var latestIndex: LogIndex { changes.last?.index ?? 0 }

    /// The configuration in force at `index`: the latest one at or before it.
    func configuration(at index: LogIndex) -> ClusterConfiguration {
        changes.last { $0.index <= index }?.configuration ?? base
    }

    mutating func record(_ entry: Entry) {
        guard let configuration = entry.configuration else { return }
        precondition(entry.index > latestIndex, "configuration entries must be recorded in order")
        changes.append((entry.index, configuration))
    }

    /// Forgets configurations of entries after `index` (the log was cut there).
    mutating func truncate(after index: LogIndex) {
        changes.removeAll { $0.index > index }
    }

    /// Folds configurations through `index` into the base (the log was compacted through it).
    mutating func compact(through index: LogIndex) {
        base = configuration(at: index)
        changes.removeAll { $0.index <= index }
    }

    /// Everything is replaced by a snapshot's configuration.
    mutating func reset(to configuration: ClusterConfiguration) {
        base = configuration
        changes.removeAll()
    }

    static func == (lhs: ConfigurationHistory, rhs: ConfigurationHistory) -> Bool {
        lhs.base == rhs.base && lhs.changes.count == rhs.changes.count
            && zip(lhs.changes, rhs.changes).allSatisfy { $0.index == $1.index && $0.configuration == $1.configuration }
    }

    private struct Change: Codable {
        var index: LogIndex
        var configuration: ClusterConfiguration
    }

    private enum CodingKeys: String, CodingKey { case base, changes }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        base = try container.decode(ClusterConfiguration.self, forKey: .base)
        changes = try container.decode([Change].self, forKey: .changes).map { ($0.index, $0.configuration) }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(base, forKey: .base)
        try container.encode(changes.map { Change(index: $0.index, configuration: $0.configuration) }, forKey: .changes)
    }
}
