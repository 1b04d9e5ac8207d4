import JSONText
import RaftCore

/// The replicated key-value map. `apply` is deterministic: the same commands in the same order
/// give the same map on every node. It knows nothing about Raft roles.
public struct KVStateMachine: ReplicatedStateMachine, Sendable {
    public internal(set) var values = ShardedMap()
    /// The log index of the last command applied.
    public internal(set) var appliedIndex: Int = 0

    public init() {}

    public var count: Int { values.count }
    public var itemCount: Int { values.count }

    /// Decodes and applies the command of entry `index`.
    public mutating func apply(command: String, at index: Int) throws -> KVResult {
        let decoded: KVCommand
        do {
            decoded = try KVCommand.decodeFast(command)
        } catch {
            skip(to: index)
            throw error
        }
        return apply(decoded, at: index)
    }

    /// A copy for a snapshot: one array of shard references (see `ShardedMap`).
    public func freeze() -> ShardedMap { values }

    public func get(_ key: String) -> String? { values[key] }

    public mutating func apply(_ command: KVCommand, at index: Int) -> KVResult {
        precondition(index > appliedIndex, "apply out of order: \(index) after \(appliedIndex)")
        appliedIndex = index
        switch command {
        case .put(let key, let value):
            values[key] = value
            return .value(value)
        case .delete(let key):
            values[key] = nil
            return .value(nil)
        case .cas(let key, let expect, let value):
            let current = values[key]
            guard current == expect else { return .casFailed(current: current) }
            values[key] = value
            return .value(value)
        case .read(let key):
            return .value(values[key])
        }
    }

    /// Records that an entry without a command (a leader's no-op) was applied.
    public mutating func skip(to index: Int) {
        precondition(index > appliedIndex, "apply out of order: \(index) after \(appliedIndex)")
        appliedIndex = index
    }
}

/// Snapshots of the map: one JSON object, `{"a":"1","b":"2"}`, shard by shard, keys sorted
/// within a shard (the same map always gives the same bytes).
extension KVStateMachine {
    public struct RestoreError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Serializes a frozen copy (take it on the node's queue with `freeze`; this can run anywhere).
    public static func serialize(_ values: ShardedMap) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        var text = ""
        for shard in values.shards where !shard.isEmpty {
            for key in shard.keys.sorted() {
                text.removeAll(keepingCapacity: true)
                if !first { text += "," }
                first = false
                JSONWriter.appendQuoted(key, to: &text)
                text += ":"
                JSONWriter.appendQuoted(shard[key]!, to: &text)
                bytes.append(contentsOf: text.utf8)
            }
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// Rebuilds the map from a snapshot taken after applying `appliedIndex`.
    public init(restoring data: [UInt8], appliedIndex: Int) throws {
        self.init()
        var values = ShardedMap()
        values.reserveCapacity(data.count / 128)
        do {
            try JSONParser.forEachStringMember(in: data) { key, value in values[key] = value }
        } catch {
            throw RestoreError(description: "a snapshot must hold one JSON object of string values: \(error)")
        }
        self.values = values
        self.appliedIndex = appliedIndex
    }
}
