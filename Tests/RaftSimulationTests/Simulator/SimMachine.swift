import RaftCore

/// What the simulator needs from a state machine beyond `ReplicatedStateMachine`: what it applied
/// since it was built or restored (for the gap-free apply check), a digest of its state after
/// every index (for the state-machine safety check), and how the healed phase of a randomized run
/// proposes commands and sees them applied.
protocol SimulatedMachine: ReplicatedStateMachine {
    /// The index this machine was restored at (0: built empty).
    var restoredIndex: LogIndex { get }
    /// The (index, command) pairs applied since it was built or restored.
    var applied: [(index: LogIndex, command: String)] { get }
    /// The state after every index applied or skipped since it was built or restored, the first
    /// one being the state it was built or restored with; empty when the machine keeps none.
    var stateDigests: [StateDigest] { get }
    /// The digest of the state a snapshot holds, comparable with `stateDigests`; nil: not kept.
    static func stateDigest(ofSnapshot data: [UInt8]) -> UInt64?
    /// The commands a snapshot's state lists, for the checker; nil when the state is not a list.
    static func commands(inSnapshot data: [UInt8]) -> [String]?
    /// A distinct command for the healed phase of a randomized run.
    static func livenessCommand(_ number: Int) -> String
    /// Whether every one of `commands` (liveness commands) shows in this state.
    func shows(_ commands: [String]) -> Bool
}

/// A state machine's state after one log index, as a digest of its canonical bytes, and what
/// applying that index answered (nil: no command there, or the state was restored there).
struct StateDigest: Equatable {
    var index: LogIndex
    var state: UInt64
    var output: UInt64?
}

/// The simulator's state machine: the list of commands applied, in order. A snapshot is that
/// list, one command per line. It also remembers the (index, command) pairs it applied since it
/// was created or restored, for the gap-free apply check.
struct SimMachine: SimulatedMachine {
    private(set) var commands: [String] = []
    private(set) var appliedIndex: LogIndex = 0
    /// The index this machine was restored at (0: built empty).
    private(set) var restoredIndex: LogIndex = 0
    private(set) var applied: [(index: LogIndex, command: String)] = []

    init() {}

    init(restoring bytes: UnsafeRawBufferPointer, appliedIndex: LogIndex) throws {
        commands = Self.decode(Array(bytes))
        self.appliedIndex = appliedIndex
        restoredIndex = appliedIndex
    }

    var itemCount: Int { commands.count }

    mutating func apply(command: String, at index: LogIndex) throws -> String {
        precondition(index > appliedIndex, "apply out of order: \(index) after \(appliedIndex)")
        appliedIndex = index
        commands.append(command)
        applied.append((index, command))
        return command
    }

    mutating func skip(to index: LogIndex) {
        precondition(index > appliedIndex, "apply out of order: \(index) after \(appliedIndex)")
        appliedIndex = index
    }

    func freeze() -> [String] { commands }

    static func serialize(_ frozen: [String], to sink: any SnapshotSink) throws {
        try Array(frozen.joined(separator: "\n").utf8).withUnsafeBytes { try sink.write($0) }
    }

    static func decode(_ data: [UInt8]) -> [String] {
        data.isEmpty ? [] : String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    // The list is its own history: the gap-free apply check and the snapshot's command list
    // already pin it down, so it keeps no digests.
    var stateDigests: [StateDigest] { [] }
    static func stateDigest(ofSnapshot data: [UInt8]) -> UInt64? { nil }
    static func commands(inSnapshot data: [UInt8]) -> [String]? { decode(data) }
    static func livenessCommand(_ number: Int) -> String { "live\(number)" }

    func shows(_ wanted: [String]) -> Bool {
        let recent = Set(commands.suffix(4 * wanted.count + 64))
        return wanted.allSatisfy(recent.contains)
    }
}
