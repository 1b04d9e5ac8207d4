import LinCheck
#if canImport(Glibc)
import Glibc
#endif
import RaftCore
import Testing

/// The linearizability checker on histories whose answer is known, and against brute force.
@Suite struct CheckerTests {
    var nextID = 0

    mutating func op(_ client: Int, _ kind: KVOperation.Kind, _ call: UInt64, _ response: UInt64?, _ outcome: KVOperation.Outcome,
                     key: String = "k") -> KVOperation {
        nextID += 1
        return KVOperation(id: nextID, client: client, key: key, kind: kind, call: call, response: response, outcome: outcome)
    }

    func verdict(_ history: [KVOperation]) -> LinearizabilityChecker.Verdict {
        LinearizabilityChecker.check(history, timeLimitSeconds: 10, clock: Self.clock).verdict
    }

    static func clock() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    @Test mutating func concurrentWritesAndReadsThatCanBeOrdered() {
        let history = [
            op(1, .put("a"), 0, 10, .ok(nil)),
            op(2, .put("b"), 5, 15, .ok(nil)),
            op(3, .get, 12, 20, .ok("a")),   // b, then a: a was written last
            op(3, .get, 21, 25, .ok("a")),
            op(1, .cas(expect: "a", value: "c"), 30, 40, .ok(nil)),
            op(2, .cas(expect: "a", value: "d"), 35, 45, .casFailed(current: "c")),
            op(3, .delete, 50, 55, .ok(nil)),
            op(3, .get, 56, 60, .ok(nil)),
        ]
        #expect(verdict(history) == .linearizable)
    }

    @Test mutating func aStaleReadIsCaughtAndMinimized() {
        let history = [
            op(1, .put("old"), 0, 10, .ok(nil)),
            op(2, .get, 11, 12, .ok("old")),
            op(1, .put("new"), 20, 30, .ok(nil)),
            op(2, .get, 31, 40, .ok("old")),  // after "new" was acknowledged: stale
            op(3, .get, 41, 42, .ok("new")),
        ]
        guard case .violation(let key, let minimal) = verdict(history) else {
            Issue.record("a stale read was not caught")
            return
        }
        #expect(key == "k")
        #expect(minimal.map(\.summary) == ["put(\"old\") → ok", "put(\"new\") → ok", "get → \"old\""],
                "the stale read, the write it missed, and where the value it read came from")
        #expect(minimal.contains { $0.summary == "get → \"old\"" && $0.call == 31 })
        let report = Timeline.text(key: key, operations: minimal)
        #expect(report.contains("cannot be put in any order"))
        #expect(Timeline.html(key: key, operations: minimal).contains("<svg"))
    }

    /// The minimal set must fail for a reason the whole history has: it keeps the delete a
    /// "not found" relied on and the write a successful CAS replaced.
    @Test mutating func theMinimalSetKeepsWhatEachAnswerReliedOn() {
        let history = [
            op(1, .put("a"), 0, 1, .ok(nil)),
            op(2, .delete, 2, 3, .ok(nil)),
            op(3, .get, 4, 5, .ok(nil)),                                // fine: after the delete
            op(1, .put("x"), 6, 7, .ok(nil)),
            op(2, .cas(expect: "x", value: "y"), 8, 9, .ok(nil)),     // fine: replaces x
            op(1, .put("b"), 10, 11, .ok(nil)),
            op(3, .get, 12, 13, .ok("y")),                             // stale: b was written after y
        ]
        guard case .violation(_, let minimal) = verdict(history) else {
            Issue.record("a stale read was not caught")
            return
        }
        #expect(minimal.map(\.summary) == ["put(\"x\") → ok", "cas(\"x\" → \"y\") → ok", "put(\"b\") → ok", "get → \"y\""])
        #expect(!BruteForce.isLinearizable(minimal))
    }

    @Test mutating func twoCASWinnersFromOneValueAreNotLinearizable() {
        let history = [
            op(1, .put("x"), 0, 1, .ok(nil)),
            op(2, .cas(expect: "x", value: "y"), 2, 10, .ok(nil)),
            op(3, .cas(expect: "x", value: "z"), 3, 11, .ok(nil)),
        ]
        if case .violation = verdict(history) {} else { Issue.record("two CAS from the same value both succeeded") }
    }

    @Test mutating func unknownOutcomesMayHappenOrNot() {
        // A write with no answer may take effect later...
        let happened = [
            op(1, .put("a"), 0, 1, .ok(nil)),
            op(2, .put("b"), 2, nil, .unknown),
            op(3, .get, 100, 101, .ok("b")),
        ]
        #expect(verdict(happened) == .linearizable)
        // ...or never.
        let never = [
            op(1, .put("a"), 0, 1, .ok(nil)),
            op(2, .put("b"), 2, nil, .unknown),
            op(3, .get, 100, 101, .ok("a")),
        ]
        #expect(verdict(never) == .linearizable)
        // But not before it was asked for.
        let tooEarly = [
            op(1, .put("a"), 0, 1, .ok(nil)),
            op(3, .get, 2, 3, .ok("b")),
            op(2, .put("b"), 10, nil, .unknown),
        ]
        if case .violation = verdict(tooEarly) {} else { Issue.record("a value read before it was written") }
    }

    @Test mutating func keysAreIndependent() {
        let history = [
            op(1, .put("1"), 0, 1, .ok(nil), key: "a"),
            op(1, .put("2"), 0, 1, .ok(nil), key: "b"),
            op(2, .get, 2, 3, .ok("1"), key: "a"),
            op(2, .get, 2, 3, .ok(nil), key: "b"),  // b was written: not found is stale
        ]
        guard case .violation(let key, _) = verdict(history) else {
            Issue.record("the stale read of b was not caught")
            return
        }
        #expect(key == "b")
    }

    /// Small random histories, checked by the checker and by trying every order.
    @Test("agrees with brute force on 3,000 small random histories")
    func agreesWithBruteForce() {
        var random = SplitMix64(seed: 2026)
        var disagreements = 0
        var violations = 0
        for round in 0..<3000 {
            let history = Self.randomHistory(&random, size: 2 + round % 6)
            let checked = LinearizabilityChecker.check(history, timeLimitSeconds: 10, clock: Self.clock).verdict
            let expected = BruteForce.isLinearizable(history)
            let isLinearizable = checked == .linearizable
            if isLinearizable != expected {
                disagreements += 1
                if disagreements == 1 { Issue.record("checker says \(checked), brute force says \(expected) for \(history.map(\.summary))") }
            }
            if !expected { violations += 1 }
            if case .violation(_, let minimal) = checked, BruteForce.isLinearizable(minimal) {
                disagreements += 1
                Issue.record("the minimal set \(minimal.map(\.summary)) of \(history.map(\.summary)) can be ordered")
            }
        }
        #expect(disagreements == 0)
        #expect(violations > 300 && violations < 2700, "the sample mixes both answers (\(violations) violations)")
    }

    /// Operations of a correct register (each takes effect at a random instant inside its
    /// interval), then, half the time, one answer tampered with.
    static func randomHistory(_ random: inout SplitMix64, size: Int) -> [KVOperation] {
        let values = ["a", "b", "c"]
        var planned: [(operation: KVOperation, point: UInt64)] = []
        for number in 0..<size {
            let call = UInt64.random(in: 0...40, using: &random)
            let response = call + UInt64.random(in: 1...20, using: &random)
            let point = UInt64.random(in: call...response, using: &random)
            let kind: KVOperation.Kind
            switch Int.random(in: 0..<4, using: &random) {
            case 0: kind = .put(values.randomElement(using: &random)!)
            case 1: kind = .get
            case 2: kind = .delete
            default: kind = .cas(expect: Bool.random(using: &random) ? nil : values.randomElement(using: &random)!,
                                 value: values.randomElement(using: &random)!)
            }
            planned.append((KVOperation(id: number, client: number, key: "k", kind: kind, call: call, response: response, outcome: .ok(nil)), point))
        }
        var state: String? = nil
        for item in planned.sorted(by: { $0.point < $1.point }) {
            let index = planned.firstIndex { $0.operation.id == item.operation.id }!
            var operation = item.operation
            switch operation.kind {
            case .put(let value): state = value
            case .delete: state = nil
            case .get: operation.outcome = .ok(state)
            case .cas(let expect, let value):
                if state == expect { state = value } else { operation.outcome = .casFailed(current: state) }
            case .append, .casRevision:
                break  // not drawn here
            }
            planned[index].operation = operation
        }
        var history = planned.map(\.operation)
        if Bool.random(using: &random) {
            let victim = Int.random(in: 0..<history.count, using: &random)
            switch history[victim].kind {
            case .get: history[victim].outcome = .ok(values.randomElement(using: &random)!)
            case .cas(let expect, _):
                history[victim].outcome = history[victim].outcome == .ok(nil) ? .casFailed(current: expect == nil ? "a" : nil) : .ok(nil)
            default: history[victim].outcome = .unknown
                history[victim].response = nil
            }
        }
        return history
    }
}

/// The definition, directly: some order of the operations, respecting real time, where every
/// answer is the register's (an operation without an answer may also be left out).
enum BruteForce {
    static func isLinearizable(_ history: [KVOperation]) -> Bool {
        search(remaining: history, state: nil)
    }

    private static func search(remaining: [KVOperation], state: String?) -> Bool {
        if remaining.allSatisfy({ $0.outcome == .unknown }) { return true }
        for (index, candidate) in remaining.enumerated() {
            // It may go first only if no other operation returned before it was called.
            if remaining.contains(where: { $0.response.map { $0 < candidate.call } ?? false }) { continue }
            guard let next = apply(candidate, to: state) else { continue }
            var rest = remaining
            rest.remove(at: index)
            if search(remaining: rest, state: next) { return true }
        }
        return false
    }

    /// The state after `operation`, or nil when its answer is impossible from `state`.
    private static func apply(_ operation: KVOperation, to state: String?) -> String?? {
        switch (operation.kind, operation.outcome) {
        case (.put(let value), .ok), (.put(let value), .unknown): return .some(value)
        case (.delete, .ok), (.delete, .unknown): return .some(nil)
        case (.get, .ok(let value)): return value == state ? .some(state) : nil
        case (.get, .unknown): return .some(state)
        case (.cas(let expect, let value), .ok): return state == expect ? .some(value) : nil
        case (.cas(let expect, _), .casFailed(let current)): return state != expect && current == state ? .some(state) : nil
        case (.cas(let expect, let value), .unknown): return .some(state == expect ? value : state)
        default: return nil
        }
    }
}
