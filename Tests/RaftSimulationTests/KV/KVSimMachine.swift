import KVStore
import KVWire
import RaftCore

/// The simulator over the real key-value store.
typealias KVSimCluster = Simulation<KVSimMachine>

/// The production `KVStateMachine`, unchanged, seen by the simulator: every command goes to its
/// `apply`, snapshots are its own format (`KVStateMachine.serialize`, `init(restoring:)`); this
/// wrapper only remembers, for the checks, what was applied and a digest of the state after
/// every index (of the snapshot bytes the state would serialize to, so a state, a snapshot file
/// and a state restored from one compare directly) and of what each command answered.
struct KVSimMachine: SimulatedMachine {
    typealias Frozen = KVState
    typealias Output = KVApplied

    private(set) var store = KVStateMachine()
    private(set) var restoredIndex: LogIndex = 0
    private(set) var applied: [(index: LogIndex, command: String)] = []
    private(set) var stateDigests: [StateDigest] = []

    init() {
        stateDigests = [StateDigest(index: 0, state: Self.digest(of: store.freeze()), output: nil)]
    }

    init(restoring data: [UInt8], appliedIndex: LogIndex) throws {
        store = try KVStateMachine(restoring: data, appliedIndex: appliedIndex)
        restoredIndex = appliedIndex
        stateDigests = [StateDigest(index: appliedIndex, state: Self.digest(of: store.freeze()), output: nil)]
    }

    var appliedIndex: LogIndex { store.appliedIndex }
    var itemCount: Int { store.itemCount }
    var state: KVState { store.state }

    mutating func apply(command: String, at index: LogIndex) throws -> KVApplied {
        let output: KVApplied
        do {
            output = try store.apply(command: command, at: index)
        } catch {
            stateDigests.append(StateDigest(index: index, state: Self.digest(of: store.freeze()), output: nil))
            throw error
        }
        applied.append((index, command))
        stateDigests.append(StateDigest(index: index, state: Self.digest(of: store.freeze()), output: Self.digest(of: output)))
        return output
    }

    mutating func skip(to index: LogIndex) {
        store.skip(to: index)
        // Nothing changed: the state is the one after the previous index.
        stateDigests.append(StateDigest(index: index, state: stateDigests.last!.state, output: nil))
    }

    func freeze() -> KVState { store.freeze() }

    static func serialize(_ frozen: KVState) -> [UInt8] { KVStateMachine.serialize(frozen) }

    // MARK: - Digests

    /// The state as its snapshot bytes say it: revision, log time, sessions and leases (sorted by
    /// the serializer, never in a dictionary's order), keys in order with their revisions.
    static func digest(of state: KVState) -> UInt64 { stateDigest(ofSnapshot: serialize(state))! }

    static func stateDigest(ofSnapshot data: [UInt8]) -> UInt64? {
        var hasher = Hasher()
        data.withUnsafeBytes { hasher.combine(bytes: $0) }
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    /// A command's answer and the changes it reports to watchers.
    static func digest(of output: KVApplied) -> UInt64 {
        var hasher = Hasher()
        output.result.encoded.withUnsafeBytes { hasher.combine(bytes: $0) }
        hasher.combine(output.events.count)
        for event in output.events {
            hasher.combine(event.kind.rawValue)
            hasher.combine(event.key)
            hasher.combine(event.revision)
            if let record = event.record {
                hasher.combine(record.value)
                hasher.combine(record.createRevision)
                hasher.combine(record.modRevision)
                hasher.combine(record.version)
                hasher.combine(record.lease)
            } else {
                hasher.combine(-1)
            }
        }
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    // MARK: - The randomized run's healed phase

    static func commands(inSnapshot data: [UInt8]) -> [String]? { nil }

    static func livenessCommand(_ number: Int) -> String {
        KVCommand.put(key: "live/\(number)", value: "\(number)").encoded
    }

    func shows(_ commands: [String]) -> Bool {
        commands.allSatisfy { command in
            guard let decoded = try? KVCommand.decode(command), case .put(let key, let value, _) = decoded.operation else { return false }
            return store.get(key) == value
        }
    }
}
