/// The replicated key-value map. `apply` is deterministic: the same commands in the same order
/// give the same map on every node. It knows nothing about Raft.
public struct KVStateMachine: Sendable {
    public private(set) var values: [String: String] = [:]
    /// The log index of the last command applied.
    public private(set) var appliedIndex: Int = 0

    public init() {}

    public var count: Int { values.count }

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
