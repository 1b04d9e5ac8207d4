/// Every value a key's history mentions, numbered so that a model's state is one integer: 0 is
/// "absent", and equal strings get equal numbers. With `emptyIsAbsent` (the MIT lab's reading,
/// where a missing key reads as "") the empty string is number 0 too. Strings made while
/// checking (an append's result) are numbered when first made.
struct ValueTable {
    private(set) var strings: [String?] = [nil]
    private var numbers: [String: Int32] = [:]
    let emptyIsAbsent: Bool

    init(emptyIsAbsent: Bool) { self.emptyIsAbsent = emptyIsAbsent }

    mutating func number(_ value: String?) -> Int32 {
        guard let value, !(emptyIsAbsent && value.isEmpty) else { return 0 }
        if let known = numbers[value] { return known }
        let fresh = Int32(strings.count)
        strings.append(value)
        numbers[value] = fresh
        return fresh
    }

    func string(_ number: Int32) -> String? { strings[Int(number)] }
}

/// One operation of one key reduced to numbers for the models: what it does and what its
/// answer says, with every value replaced by its number in the key's `ValueTable`.
struct CompiledOperation {
    enum Action: UInt8 { case put, get, delete, cas, append, casRevision }
    enum Answer: UInt8 { case ok, casFailed, casRefused, written, revisionMismatch, unknown }

    var action: Action
    var answer: Answer
    /// The value written (put, cas, cas by revision) or added (append).
    var argument: Int32 = 0
    /// A value CAS's expected value.
    var expect: Int32 = 0
    /// A revision CAS's expected modRevision (0: absent).
    var expectRevision = 0
    /// The value a get read, or the current value a refusal reported.
    var observed: Int32 = 0
    /// The revision an answer reported: a write's new modRevision, or a refusal's.
    var revision = 0

    init(_ operation: KVOperation, values: inout ValueTable) {
        switch operation.kind {
        case .put(let value): action = .put; argument = values.number(value)
        case .get: action = .get
        case .delete: action = .delete
        case .cas(let expected, let value):
            action = .cas
            expect = values.number(expected)
            argument = values.number(value)
        case .append(let value): action = .append; argument = values.number(value)
        case .casRevision(let expected, let value):
            action = .casRevision
            expectRevision = expected
            argument = values.number(value)
        }
        switch operation.outcome {
        case .ok(let value): answer = .ok; observed = values.number(value)
        case .casFailed(let current): answer = .casFailed; observed = values.number(current)
        case .casRefused: answer = .casRefused
        case .written(let revision): answer = .written; self.revision = revision
        case .revisionMismatch(let current, let revision):
            answer = .revisionMismatch
            observed = values.number(current)
            self.revision = revision
        case .unknown: answer = .unknown
        }
    }

    /// Operations with unknown answers that would act alike wherever both may be placed.
    struct Signature: Hashable {
        var action: UInt8
        var argument: Int32
        var expect: Int32
        var expectRevision: Int
    }

    var signature: Signature {
        Signature(action: action.rawValue, argument: argument, expect: expect, expectRevision: expectRevision)
    }
}

/// What a search needs of a model: a start, and one step. The search numbers states; the model
/// says what they mean.
protocol StepModel {
    var initialState: Int32 { get }
    /// The state after `operation` taken in `state`, or -1 when its answer is impossible there.
    /// An operation with an unknown answer is taken as having happened (one that did not happen
    /// is simply never placed), so one state follows at most.
    mutating func step(_ state: Int32, _ operation: Int) -> Int32
    /// Whether the operation's effect does not depend on the state (a put or a delete of a
    /// plain value): an unanswered operation placed just before it is seen by nobody.
    func overwritesBlindly(_ operation: Int) -> Bool
}
