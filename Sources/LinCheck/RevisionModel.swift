/// The model of one key whose history uses modRevisions (puts answered with the key's new
/// revision, compare-and-set by revision), as this store and etcd give them.
///
/// The store the model stands for: one revision counter that every write raises; a write gives
/// the key a modRevision above every one the key had before (other keys' writes leave gaps); an
/// absent key's modRevision is 0; a cas by revision applies exactly when the key's modRevision
/// equals the one expected.
///
/// The state is the value and what is known of L, the revision of the key's last write (the
/// key's modRevision is L while the key holds a value, 0 while it is absent). A write whose
/// answer said its revision makes L exact. A write whose revision was never told (no answer,
/// or an answer without one) leaves a wildcard: L is at least one more than the smallest L
/// before, with no upper bound yet. Later observations pin the wildcard down — a refusal that
/// reports (value, modRevision), or a cas that succeeded, fixes L to one number — or narrow it:
/// a refusal that says only "not the expected revision" rules that one number out, and a later
/// write reporting revision R needs some admissible L below R. So a state is
/// `(value, exact L)` or `(value, L ≥ low, L ∉ excluded)`, and that is everything a history can
/// know of L: constraints on it only ever come from those three kinds of observation, and each
/// write replaces L, so no constraint outlives the write after it. The wildcard is thus exact:
/// the model accepts a history if and only if some choice of concrete revisions for the
/// unanswered writes makes it linearizable (the brute-force tests enumerate such choices).
struct RevisionModel: StepModel {
    /// `exact`: L == low. Otherwise L ≥ low and L is not in `excluded` (sorted, all > low).
    struct State: Hashable {
        var value: Int32
        var exact: Bool
        var low: Int
        var excluded: [Int]
    }

    var values: ValueTable
    let operations: [CompiledOperation]
    private(set) var states: [State] = []
    private var numbers: [State: Int32] = [:]

    init(values: ValueTable, operations: [CompiledOperation]) {
        self.values = values
        self.operations = operations
        _ = number(State(value: 0, exact: true, low: 0, excluded: []))
    }

    var initialState: Int32 { 0 }

    mutating func number(_ state: State) -> Int32 {
        if let known = numbers[state] { return known }
        let fresh = Int32(states.count)
        states.append(state)
        numbers[state] = fresh
        return fresh
    }

    /// No write here is blind: each one's revision depends on the one before.
    func overwritesBlindly(_ index: Int) -> Bool { false }

    mutating func step(_ stateNumber: Int32, _ index: Int) -> Int32 {
        let operation = operations[index]
        guard let next = Self.next(states[Int(stateNumber)], operation, values: &values) else { return -1 }
        return number(next)
    }

    /// The state after `operation`, or nil when its answer is impossible from `state`.
    static func next(_ state: State, _ operation: CompiledOperation, values: inout ValueTable) -> State? {
        let answer = operation.answer
        switch operation.action {
        case .get:
            return answer == .ok && operation.observed == state.value ? state : nil
        case .put:
            return written(state, value: operation.argument, answer: answer, revision: operation.revision)
        case .append:
            let joined = values.number((values.string(state.value) ?? "") + (values.string(operation.argument) ?? ""))
            return written(state, value: joined, answer: answer, revision: operation.revision)
        case .delete:
            if state.value == 0 { return answer == .revisionMismatch || answer == .casFailed || answer == .casRefused ? nil : state }
            return written(state, value: 0, answer: answer, revision: operation.revision)
        case .cas:
            switch answer {
            case .ok, .unknown, .written:
                guard state.value == operation.expect else { return nil }
                return written(state, value: operation.argument, answer: answer, revision: operation.revision)
            case .casFailed:
                return state.value != operation.expect && state.value == operation.observed ? state : nil
            case .casRefused:
                return state.value != operation.expect ? state : nil
            case .revisionMismatch:
                return nil
            }
        case .casRevision:
            return casRevision(state, operation)
        }
    }

    static func casRevision(_ state: State, _ operation: CompiledOperation) -> State? {
        let expected = operation.expectRevision
        let present = state.value != 0
        switch operation.answer {
        case .ok, .unknown, .written:
            // It applied: the key's modRevision was the expected one.
            var base = state
            if present {
                guard state.canBe(expected) else { return nil }
                base = State(value: state.value, exact: true, low: expected, excluded: [])
            } else if expected != 0 {
                return nil
            }
            return written(base, value: operation.argument, answer: operation.answer, revision: operation.revision)
        case .revisionMismatch:
            guard operation.observed == state.value, operation.revision != expected else { return nil }
            if !present { return operation.revision == 0 ? state : nil }
            guard state.canBe(operation.revision) else { return nil }
            return State(value: state.value, exact: true, low: operation.revision, excluded: [])
        case .casFailed, .casRefused:
            if operation.answer == .casFailed && operation.observed != state.value { return nil }
            if !present { return expected != 0 ? state : nil }
            return state.excluding(expected)
        }
    }

    /// After a write of `value`: L exact when the answer told the revision, else a wildcard.
    static func written(_ state: State, value: Int32, answer: CompiledOperation.Answer, revision: Int) -> State? {
        switch answer {
        case .written:
            guard state.hasOneBelow(revision) else { return nil }
            return State(value: value, exact: true, low: revision, excluded: [])
        case .ok, .unknown:
            return State(value: value, exact: false, low: state.low + 1, excluded: [])
        case .casFailed, .casRefused, .revisionMismatch:
            return nil
        }
    }
}

extension RevisionModel.State {
    /// Whether L may be `revision`.
    func canBe(_ revision: Int) -> Bool {
        exact ? low == revision : revision >= low && !excluded.contains(revision)
    }

    /// Whether L may be below `revision` (so a write may get `revision`).
    func hasOneBelow(_ revision: Int) -> Bool {
        if exact { return low < revision }
        let ruledOut = excluded.lazy.filter { $0 < revision }.count
        return revision - low > ruledOut
    }

    /// The state where L is not `revision` (nil: it had to be).
    func excluding(_ revision: Int) -> Self? {
        if exact { return low == revision ? nil : self }
        guard revision >= low, !excluded.contains(revision) else { return self }
        var result = self
        if revision == low {
            result.low += 1
            while let first = result.excluded.first, first == result.low {
                result.excluded.removeFirst()
                result.low += 1
            }
        } else {
            result.excluded.append(revision)
            result.excluded.sort()
        }
        return result
    }
}
