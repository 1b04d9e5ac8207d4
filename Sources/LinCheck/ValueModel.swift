/// The model of one key as a register of strings, absent at first: put, get, delete, compare-
/// and-set on the value, and append (the MIT lab's: the new string is the old one, absent
/// counting as "", followed by the argument). A state is a value's number in the key's
/// `ValueTable`.
struct ValueModel: StepModel {
    var values: ValueTable
    let operations: [CompiledOperation]
    /// Appends already worked out: (state, operation) → state.
    private var appended: [UInt64: Int32] = [:]

    init(values: ValueTable, operations: [CompiledOperation]) {
        self.values = values
        self.operations = operations
    }

    var initialState: Int32 { 0 }

    func overwritesBlindly(_ index: Int) -> Bool {
        let action = operations[index].action
        return action == .put || action == .delete
    }

    mutating func step(_ state: Int32, _ index: Int) -> Int32 {
        let operation = operations[index]
        let answer = operation.answer
        if answer == .unknown && leavesAsIs(state, operation) { return -1 }
        switch operation.action {
        case .get:
            return answer == .ok && operation.observed == state ? state : -1
        case .put:
            return answer == .ok || answer == .unknown ? operation.argument : -1
        case .delete:
            return answer == .ok || answer == .unknown ? 0 : -1
        case .append:
            return answer == .ok || answer == .unknown ? append(state, index) : -1
        case .cas:
            switch answer {
            case .ok, .unknown: return state == operation.expect ? operation.argument : -1
            case .casFailed: return state != operation.expect && state == operation.observed ? state : -1
            case .casRefused: return state != operation.expect ? state : -1
            case .written, .revisionMismatch: return -1
            }
        case .casRevision:
            return -1  // needs the revision model
        }
    }

    /// An unanswered operation that would leave the state as it is (a cas from a value to
    /// itself, a put of the value already there) need never be placed: taking it as never having
    /// happened leaves every other answer as possible as before.
    private func leavesAsIs(_ state: Int32, _ operation: CompiledOperation) -> Bool {
        switch operation.action {
        case .cas: return operation.expect == operation.argument
        case .put: return operation.argument == state
        case .delete: return state == 0
        default: return false
        }
    }

    private mutating func append(_ state: Int32, _ index: Int) -> Int32 {
        let memoKey = UInt64(UInt32(bitPattern: state)) << 32 | UInt64(index)
        if let known = appended[memoKey] { return known }
        let added = values.string(operations[index].argument) ?? ""
        let result = values.number((values.string(state) ?? "") + added)
        appended[memoKey] = result
        return result
    }
}
