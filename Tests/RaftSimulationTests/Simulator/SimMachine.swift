import RaftCore

/// The simulator's state machine: the list of commands applied, in order. A snapshot is that
/// list, one command per line. It also remembers the (index, command) pairs it applied since it
/// was created or restored, for the gap-free apply check.
struct SimMachine: ReplicatedStateMachine {
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
}
