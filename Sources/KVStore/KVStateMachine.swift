import JSONText
import RaftCore

/// The replicated key-value map. `apply` is deterministic: the same commands in the same order
/// give the same map on every node. It knows nothing about Raft roles.
public struct KVStateMachine: ReplicatedStateMachine, Sendable {
    public internal(set) var values: [String: String] = [:]
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

    public func freeze() -> [String: String] { values }

    public static func serialize(_ frozen: [String: String]) -> [UInt8] {
        serialize(values: frozen)
    }

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

/// Snapshots of the map: one JSON object, keys sorted, `{"a":"1","b":"2"}`.
extension KVStateMachine {
    public struct RestoreError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Serializes `values` (take the copy on the node's queue; the work can run anywhere).
    public static func serialize(values: [String: String]) -> [UInt8] {
        var text = "{"
        text.reserveCapacity(values.count * 24)
        var first = true
        for key in values.keys.sorted() {
            if !first { text += "," }
            first = false
            JSONWriter.appendQuoted(key, to: &text)
            text += ":"
            JSONWriter.appendQuoted(values[key]!, to: &text)
        }
        text += "}"
        return Array(text.utf8)
    }

    /// Rebuilds the map from a snapshot taken after applying `appliedIndex`.
    public init(restoring data: [UInt8], appliedIndex: Int) throws {
        self.init()
        guard case .object(let object) = try JSONParser.parse(data) else {
            throw RestoreError(description: "a snapshot must hold a JSON object")
        }
        var values: [String: String] = [:]
        values.reserveCapacity(object.members.count)
        for member in object.members {
            guard case .string(let value) = member.value else {
                throw RestoreError(description: "the value of \(member.key) is not a string")
            }
            values[member.key] = value
        }
        self.values = values
        self.appliedIndex = appliedIndex
    }
}
