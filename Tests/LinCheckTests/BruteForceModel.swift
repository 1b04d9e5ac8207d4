import LinCheck
import RaftCore

/// The definition of linearizability, directly, over concrete stores: some order of the
/// operations, respecting real time, in which every answer is the store's; an operation without
/// an answer may be left out, or placed and either take effect or (a CAS) not. Revisions are
/// concrete numbers: a write whose revision was not told tries every revision it could have got.
enum BruteForceModel {
    /// A key's concrete state: its value and the revision of its last write (0: none yet).
    struct State: Hashable {
        var value: String?
        var last = 0
        var modRevision: Int { value == nil ? 0 : last }
    }

    static func isLinearizable(_ history: [KVOperation], emptyIsAbsent: Bool = false) -> Bool {
        var byKey: [String: [KVOperation]] = [:]
        for operation in history { byKey[operation.key, default: []].append(operation) }
        // Without revisions in the history, which revision a write got cannot matter: one will do.
        let ceiling = history.contains(where: \.usesRevisions) ? 2 + history.count + history.map(reportedRevision).max()! : 0
        return byKey.keys.sorted().allSatisfy { key in
            search(byKey[key]!, state: State(value: nil), emptyIsAbsent: emptyIsAbsent, ceiling: ceiling)
        }
    }

    static func reportedRevision(_ operation: KVOperation) -> Int {
        switch operation.outcome {
        case .written(let revision), .revisionMismatch(_, let revision): return revision
        default:
            if case .casRevision(let expected, _) = operation.kind { return expected }
            return 0
        }
    }

    private static func search(_ remaining: [KVOperation], state: State, emptyIsAbsent: Bool, ceiling: Int) -> Bool {
        if remaining.allSatisfy({ $0.outcome == .unknown }) { return true }
        for (index, candidate) in remaining.enumerated() {
            if remaining.contains(where: { $0.response.map { $0 < candidate.call } ?? false }) { continue }
            var rest = remaining
            rest.remove(at: index)
            for next in successors(candidate, state, emptyIsAbsent: emptyIsAbsent, ceiling: ceiling)
            where search(rest, state: next, emptyIsAbsent: emptyIsAbsent, ceiling: ceiling) {
                return true
            }
        }
        return false
    }

    /// Every state the store may be in after `operation` gave its answer in `state`.
    static func successors(_ operation: KVOperation, _ state: State, emptyIsAbsent: Bool, ceiling: Int) -> [State] {
        func normal(_ value: String?) -> String? { emptyIsAbsent && value == "" ? nil : value }
        let value = normal(state.value)
        let outcome = operation.outcome
        /// States after a write of `newValue` with the revision the answer told, or any.
        func wrote(_ newValue: String?, from base: State) -> [State] {
            if newValue == nil && base.value == nil { return [base] }  // deleting nothing changes nothing
            if case .written(let revision) = outcome {
                return revision > base.last ? [State(value: newValue, last: revision)] : []
            }
            if ceiling == 0 { return [State(value: normal(newValue), last: 0)] }
            return ((base.last + 1)...max(base.last + 1, ceiling)).map { State(value: normal(newValue), last: $0) }
        }
        let refused = outcome == .casRefused || { if case .casFailed = outcome { return true }; if case .revisionMismatch = outcome { return true }; return false }()
        switch operation.kind {
        case .get:
            if case .ok(let read) = outcome { return normal(read) == value ? [state] : [] }
            return outcome == .unknown ? [state] : []
        case .put(let newValue): return refused ? [] : wrote(newValue, from: state)
        case .delete: return refused ? [] : wrote(nil, from: state)
        case .append(let piece): return refused ? [] : wrote((value ?? "") + piece, from: state)
        case .cas(let expect, let newValue):
            let applies = value == normal(expect)
            switch outcome {
            case .ok, .written: return applies ? wrote(newValue, from: state) : []
            case .unknown: return applies ? wrote(newValue, from: state) + [state] : [state]
            case .casRefused: return applies ? [] : [state]
            case .casFailed(let current): return !applies && normal(current) == value ? [state] : []
            case .revisionMismatch: return []
            }
        case .casRevision(let expected, let newValue):
            let applies = state.modRevision == expected
            switch outcome {
            case .ok, .written: return applies ? wrote(newValue, from: state) : []
            case .unknown: return applies ? wrote(newValue, from: state) + [state] : [state]
            case .casRefused: return applies ? [] : [state]
            case .casFailed(let current): return !applies && normal(current) == value ? [state] : []
            case .revisionMismatch(let current, let revision):
                return !applies && normal(current) == value && revision == state.modRevision ? [state] : []
            }
        }
    }
}

/// Small random histories of a correct store of each kind, half of them with one answer
/// tampered with, for agreement with brute force.
struct RandomHistories {
    var random: SplitMix64

    enum Flavour { case registerWithCAS, keyValue, revisions }

    mutating func below(_ bound: Int) -> Int { Int.random(in: 0..<bound, using: &random) }
    mutating func coin() -> Bool { Bool.random(using: &random) }

    mutating func history(_ flavour: Flavour, size: Int) -> [KVOperation] {
        var planned: [(operation: KVOperation, point: UInt64, happens: Bool)] = []
        for number in 0..<size {
            let call = UInt64(below(40))
            let response = call + 1 + UInt64(below(20))
            let point = call + UInt64(below(Int(response - call) + 1))
            let key = flavour == .keyValue && coin() ? "b" : "a"
            let unknown = below(5) == 0
            let operation = KVOperation(id: number, client: number, key: key, kind: kind(flavour), call: call,
                                        response: unknown ? nil : response, outcome: unknown ? .unknown : .ok(nil))
            planned.append((operation, point, !unknown || coin()))
        }
        var states: [String: BruteForceModel.State] = [:]
        var revision = 0
        for index in planned.indices.sorted(by: { planned[$0].point < planned[$1].point }) where planned[index].happens {
            var operation = planned[index].operation
            var state = states[operation.key] ?? BruteForceModel.State(value: nil)
            revision += 1 + below(2)
            let reports = flavour == .revisions
            operation.outcome = Self.answer(operation, &state, revision: revision, reportsRevisions: reports, unknown: operation.outcome == .unknown)
            if flavour == .registerWithCAS, case .casFailed = operation.outcome { operation.outcome = .casRefused }
            states[operation.key] = state
            planned[index].operation = operation
        }
        var history = planned.map(\.operation)
        if coin() { tamper(&history[below(history.count)], flavour) }
        return history
    }

    mutating func kind(_ flavour: Flavour) -> KVOperation.Kind {
        let values = flavour == .keyValue ? ["x", "y", ""] : ["0", "1", "2"]
        func pick() -> String { values[below(values.count)] }
        switch (flavour, below(flavour == .registerWithCAS ? 3 : 5)) {
        case (_, 0): return .get
        case (_, 1): return .put(pick())
        case (.registerWithCAS, _): return .cas(expect: pick(), value: pick())
        case (.keyValue, 2): return .append(pick())
        case (.keyValue, 3): return .delete
        case (.keyValue, _): return .cas(expect: coin() ? nil : pick(), value: pick())
        case (.revisions, 2): return .delete
        case (.revisions, _): return .casRevision(expectRevision: below(8), value: pick())
        }
    }

    /// The store's answer to `operation` taking effect now, and its effect on `state`.
    static func answer(_ operation: KVOperation, _ state: inout BruteForceModel.State, revision: Int,
                       reportsRevisions: Bool, unknown: Bool) -> KVOperation.Outcome {
        func write(_ value: String?) -> KVOperation.Outcome {
            if value == nil && state.value == nil { return unknown ? .unknown : .ok(nil) }
            state = BruteForceModel.State(value: value, last: revision)
            return unknown ? .unknown : (reportsRevisions ? .written(revision: revision) : .ok(nil))
        }
        switch operation.kind {
        case .get: return unknown ? .unknown : .ok(state.value)
        case .put(let value): return write(value)
        case .delete: return write(nil)
        case .append(let piece): return write((state.value ?? "") + piece)
        case .cas(let expect, let value):
            return state.value == expect ? write(value) : (unknown ? .unknown : .casFailed(current: state.value))
        case .casRevision(let expected, let value):
            if state.modRevision == expected { return write(value) }
            if unknown { return .unknown }
            return [KVOperation.Outcome.casRefused, .casFailed(current: state.value),
                    .revisionMismatch(current: state.value, modRevision: state.modRevision)][revision % 3]
        }
    }

    mutating func tamper(_ operation: inout KVOperation, _ flavour: Flavour) {
        switch (operation.kind, operation.outcome) {
        case (.get, _): operation.outcome = .ok(coin() ? nil : ["x", "0", "1", ""][below(4)])
        case (_, .written(let revision)): operation.outcome = .written(revision: max(1, revision - 1 - below(3)))
        case (_, .revisionMismatch(let current, let revision)): operation.outcome = .revisionMismatch(current: current, modRevision: revision + 1)
        case (.cas, .ok), (.casRevision, .ok): operation.outcome = .casRefused
        case (.cas, _), (.casRevision, _):
            operation.outcome = flavour == .revisions ? .written(revision: 1 + below(8)) : .ok(nil)
            if operation.response == nil { operation.response = operation.call + 1 }
        default: break
        }
    }
}
