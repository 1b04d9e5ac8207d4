/// Decides whether a history of key-value operations is linearizable: whether each operation can
/// be given one instant between its call and its response such that, in that order, every answer
/// is what a single copy of the map would have given.
///
/// Keys are independent registers, so the history is checked one key at a time
/// (P-compositionality, Herlihy & Wing), each against `ValueModel`, or `RevisionModel` when its
/// operations use modRevisions; the search for one key is `LinearizationSearch`. An operation
/// without an answer may take effect at any instant after its call, or never.
public enum LinearizabilityChecker {
    public enum Verdict: Sendable, Equatable {
        case linearizable
        /// The operations of `key` cannot be ordered; `minimal` is a smallest subset of them
        /// (by greedy removal) that still cannot be.
        case violation(key: String, minimal: [KVOperation])
        /// The time limit ran out before an answer.
        case unknown(reason: String)
    }

    public struct Result: Sendable {
        public var verdict: Verdict
        public var operations: Int
        public var keys: Int
        public var seconds: Double
    }

    /// Checks `history` within `timeLimitSeconds` (measured by `clock`, monotonic nanoseconds).
    /// `emptyIsAbsent`: a missing key reads as "" (the MIT lab's store), so "" and absent are one.
    public static func check(_ history: [KVOperation], emptyIsAbsent: Bool = false, timeLimitSeconds: Double = 30,
                             clock: @escaping () -> UInt64) -> Result {
        let started = clock()
        let deadline = started &+ UInt64(max(0, timeLimitSeconds) * 1e9)
        var byKey: [String: [KVOperation]] = [:]
        for operation in history { byKey[operation.key, default: []].append(operation) }
        let keys = byKey.keys.sorted()
        func result(_ verdict: Verdict) -> Result {
            Result(verdict: verdict, operations: history.count, keys: keys.count, seconds: Double(clock() - started) / 1e9)
        }
        for key in keys {
            let operations = byKey[key]!
            switch decide(operations, emptyIsAbsent: emptyIsAbsent, deadline: deadline, clock: clock) {
            case .some(true):
                continue
            case .some(false):
                let minimal = Minimizer.minimize(operations) {
                    decide($0, emptyIsAbsent: emptyIsAbsent, deadline: deadline, clock: clock) == false
                }
                return result(.violation(key: key, minimal: minimal))
            case .none:
                return result(.unknown(reason: "the time limit of \(timeLimitSeconds) s ran out while checking key \(key)"))
            }
        }
        return result(.linearizable)
    }

    /// True, false, or nil when the deadline passed: whether the operations of one key can be
    /// linearized.
    static func decide(_ operations: [KVOperation], emptyIsAbsent: Bool, deadline: UInt64, clock: () -> UInt64) -> Bool? {
        // A read without an answer constrains nothing and changes nothing.
        let kept = operations.filter { !($0.isRead && $0.outcome == .unknown) }
        var values = ValueTable(emptyIsAbsent: emptyIsAbsent)
        let compiled = kept.map { CompiledOperation($0, values: &values) }
        let twins = twinsBefore(kept, compiled)
        if kept.contains(where: \.usesRevisions) {
            var model = RevisionModel(values: values, operations: compiled)
            return LinearizationSearch.run(kept, twinBefore: twins, model: &model, deadline: deadline, clock: clock)
        }
        var model = ValueModel(values: values, operations: compiled)
        return LinearizationSearch.run(kept, twinBefore: twins, model: &model, deadline: deadline, clock: clock)
    }

    /// For each operation with an unknown answer, the latest earlier-called one that acts alike.
    static func twinsBefore(_ operations: [KVOperation], _ compiled: [CompiledOperation]) -> [Int32] {
        var twins = [Int32](repeating: -1, count: operations.count)
        var latest: [CompiledOperation.Signature: Int32] = [:]
        let byCall = operations.indices.sorted {
            operations[$0].call != operations[$1].call ? operations[$0].call < operations[$1].call : $0 < $1
        }
        for index in byCall where operations[index].outcome == .unknown {
            let signature = compiled[index].signature
            if let earlier = latest[signature] { twins[index] = earlier }
            latest[signature] = Int32(index)
        }
        return twins
    }
}
