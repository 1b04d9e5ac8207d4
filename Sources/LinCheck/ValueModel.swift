/// The model of one key as a register of strings, absent at first: put, get, delete, compare-
/// and-set on the value, and append (the MIT lab's: the new string is the old one, absent
/// counting as "", followed by the argument). A state is a value's number in the key's
/// `ValueTable`.
struct ValueModel: StepModel {
    var values: ValueTable
    let operations: [CompiledOperation]
    /// Appends already worked out: (state, operation) → state.
    private var appended: [UInt64: Int32] = [:]

    /// Unanswered appends whose piece no answer ever showed (see `unseenAppends`).
    private let unseen: [Bool]

    init(values: ValueTable, operations: [CompiledOperation]) {
        self.values = values
        self.operations = operations
        unseen = Self.unseenAppends(operations, values: values)
    }

    /// An unanswered append whose piece appears in no value any answer showed (a read, a
    /// refusal's current value, a cas's expected value) need never be placed: once placed, the
    /// piece stays in the key until a put or delete, so no answer could be given in between and
    /// leaving the append out changes nothing anyone saw. Not so where a refusal without a value
    /// ("anything but x") could have seen it: then every append may matter.
    static func unseenAppends(_ operations: [CompiledOperation], values: ValueTable) -> [Bool] {
        if operations.contains(where: { $0.answer == .casRefused }) { return operations.map { _ in false } }
        var shown: [String] = []
        for operation in operations {
            if operation.answer == .ok && operation.action == .get || operation.answer == .casFailed {
                shown.append(values.string(operation.observed) ?? "")
            }
            if operation.action == .cas { shown.append(values.string(operation.expect) ?? "") }
        }
        return operations.map { operation in
            guard operation.action == .append, operation.answer == .unknown, let piece = values.string(operation.argument),
                  !piece.isEmpty else { return false }
            return !shown.contains { $0.contains(piece) }
        }
    }

    var initialState: Int32 { 0 }

    func overwritesBlindly(_ index: Int) -> Bool {
        let action = operations[index].action
        return action == .put || action == .delete
    }

    mutating func step(_ state: Int32, _ index: Int) -> Int32 {
        let operation = operations[index]
        let answer = operation.answer
        if answer == .unknown && (leavesAsIs(state, operation) || unseen[index]) { return -1 }
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
