import LinCheck
import RaftCore
import Testing

/// The checker against brute force (`BruteForceModel`) on small random histories of each model:
/// a register with CAS (refusals whose current value is unknown, as Jepsen's), a map with
/// append, put, delete and CAS on two keys (with "" read both as a value and, as in the MIT
/// lab, as absent), and one key with cas by revision and writes answered with revisions.
@Suite struct ModelAgreementTests {
    static func verdict(_ history: [KVOperation], emptyIsAbsent: Bool = false) -> LinearizabilityChecker.Verdict {
        LinearizabilityChecker.check(history, emptyIsAbsent: emptyIsAbsent, timeLimitSeconds: 10, clock: CheckerTests.clock).verdict
    }

    static func agreement(_ flavour: RandomHistories.Flavour, rounds: Int, seed: UInt64, emptyIsAbsent: Bool = false) -> (disagreements: [String], violations: Int) {
        var histories = RandomHistories(random: SplitMix64(seed: seed))
        var disagreements: [String] = []
        var violations = 0
        for round in 0..<rounds {
            let history = histories.history(flavour, size: 2 + round % 5)
            let checked = verdict(history, emptyIsAbsent: emptyIsAbsent)
            let expected = BruteForceModel.isLinearizable(history, emptyIsAbsent: emptyIsAbsent)
            if !expected { violations += 1 }
            if (checked == .linearizable) != expected {
                disagreements.append("checker: \(checked), brute force: \(expected), for \(history.map { "\($0.key) \($0.call)-\($0.response.map(String.init) ?? "∞") \($0.summary)" })")
            }
            if case .violation(_, let minimal) = checked, BruteForceModel.isLinearizable(minimal, emptyIsAbsent: emptyIsAbsent) {
                disagreements.append("the minimal set \(minimal.map(\.summary)) can be ordered")
            }
        }
        return (disagreements, violations)
    }

    @Test("a register with CAS and refusals of unknown value: agrees with brute force")
    func registerWithCAS() {
        let (disagreements, violations) = Self.agreement(.registerWithCAS, rounds: 1500, seed: 11)
        #expect(disagreements.isEmpty, "\(disagreements.prefix(3))")
        #expect(violations > 150 && violations < 1350, "the sample mixes both answers (\(violations) violations)")
    }

    @Test("a map with append, put, delete and CAS: agrees with brute force", arguments: [false, true])
    func keyValue(emptyIsAbsent: Bool) {
        let (disagreements, violations) = Self.agreement(.keyValue, rounds: 1500, seed: 12, emptyIsAbsent: emptyIsAbsent)
        #expect(disagreements.isEmpty, "\(disagreements.prefix(3))")
        #expect(violations > 150 && violations < 1350, "the sample mixes both answers (\(violations) violations)")
    }

    @Test("cas by revision, with revisions left unknown by unanswered writes: agrees with brute force")
    func revisions() {
        let (disagreements, violations) = Self.agreement(.revisions, rounds: 1200, seed: 13)
        #expect(disagreements.isEmpty, "\(disagreements.prefix(3))")
        #expect(violations > 120 && violations < 1080, "the sample mixes both answers (\(violations) violations)")
    }
}
