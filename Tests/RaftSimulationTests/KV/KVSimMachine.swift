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

    init(restoring bytes: UnsafeRawBufferPointer, appliedIndex: LogIndex) throws {
        store = try KVStateMachine(restoring: bytes, appliedIndex: appliedIndex)
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

    static func serialize(_ frozen: KVState, to sink: any SnapshotSink) throws {
        try KVStateMachine.serialize(frozen, to: sink)
    }

    // MARK: - Digests

    /// The state as its snapshot bytes say it: revision, log time, sessions and leases (sorted by
    /// the serializer, never in a dictionary's order), keys in order with their revisions.
    static func digest(of state: KVState) -> UInt64 { stateDigest(ofSnapshot: serialize(state))! }

    static func stateDigest(ofSnapshot data: [UInt8]) -> UInt64? {
        data.withUnsafeBytes(hash)
    }

    /// A command's answer (as the session table stores it) and the changes it reports to watchers.
    static func digest(of output: KVApplied) -> UInt64 {
        var bytes = output.result.encoded
        func append(_ number: Int64) { withUnsafeBytes(of: number.littleEndian) { bytes.append(contentsOf: $0) } }
        func append(_ text: String) {
            append(Int64(text.utf8.count))
            bytes.append(contentsOf: text.utf8)
        }
        for event in output.events {
            append(event.kind.rawValue)
            append(event.key)
            append(event.revision)
            if let record = event.record {
                append(record.value)
                for number in [record.createRevision, record.modRevision, record.version, record.lease] { append(number) }
            } else {
                append(-1)
            }
        }
        return bytes.withUnsafeBytes(hash)
    }

    /// A 64-bit hash that is the same in every process (unlike `Hasher`), so a replayed failure
    /// prints the same digests; eight bytes a step, to stay cheap in debug builds.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
        var offset = 0
        while offset + 8 <= bytes.count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            state = ((state ^ (word &* 0xC2B2_AE3D_27D4_EB4F)) << 31 | (state ^ (word &* 0xC2B2_AE3D_27D4_EB4F)) >> 33) &* 0x9E37_79B1_85EB_CA87
            offset += 8
        }
        while offset < bytes.count {
            state = (state ^ UInt64(bytes[offset])) &* 0x0000_0100_0000_01B3
            offset += 1
        }
        state ^= state >> 30
        state &*= 0xBF58_476D_1CE4_E5B9
        state ^= state >> 27
        state &*= 0x94D0_49BB_1331_11EB
        return state ^ (state >> 31)
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
