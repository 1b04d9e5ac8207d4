import LinCheck
import Testing

/// The project's own JSON-lines histories: what `RecordedFormat.line(for:)` writes reads back as
/// the same operations, the store's answers mean what they mean on the wire, and a history
/// with cas by revision is checked against the revision model.
@Suite struct RecordedFormatTests {
    static func operation(_ id: Int, _ kind: KVOperation.Kind, _ call: UInt64, _ response: UInt64?, _ outcome: KVOperation.Outcome,
                          key: String = "k") -> KVOperation {
        KVOperation(id: id, client: id % 3, key: key, kind: kind, call: call, response: response, outcome: outcome)
    }

    @Test func linesReadBackAsTheSameOperations() throws {
        let history = [
            Self.operation(1, .put("a \"quoted\"\n"), 0, 10, .ok(nil)),
            Self.operation(2, .get, 11, 12, .ok("a \"quoted\"\n")),
            Self.operation(3, .cas(expect: nil, value: "b"), 13, 14, .casFailed(current: "a \"quoted\"\n")),
            Self.operation(4, .cas(expect: "x", value: "b"), 15, 16, .casRefused),
            Self.operation(5, .casRevision(expectRevision: 3, value: "c"), 17, 18, .revisionMismatch(current: nil, modRevision: 0)),
            Self.operation(6, .append("d"), 19, nil, .unknown, key: "other"),
            Self.operation(7, .put("e"), 20, 25, .written(revision: 9), key: "other"),
            Self.operation(8, .delete, 26, 27, .ok(nil), key: "other"),
            Self.operation(9, .get, 28, 29, .ok(nil), key: "other"),
        ]
        let text = history.map(RecordedFormat.line(for:)).joined(separator: "\n")
        let parsed = try HistoryFile.parse(text)
        #expect(parsed.format == .recorded && !parsed.timesAreLineNumbers)
        #expect(parsed.operations == history)
    }

    @Test func theStoresAnswersMeanWhatTheyMeanOnTheWire() throws {
        let lines = [
            #"{"client":0,"call":0,"response":5,"request":{"op":"put","key":"k","value":"1"},"answer":{"status":"ok"}}"#,
            #"{"client":1,"call":6,"response":7,"request":{"op":"get","key":"k"},"answer":{"status":"error","code":"timeout"}}"#,
            #"{"client":1,"call":8,"response":9,"request":{"op":"put","key":"k","value":"9"},"answer":{"status":"error","code":"unavailable"}}"#,
            #"{"client":2,"call":10,"response":11,"request":{"key":"k"},"answer":{"key":"k","value":"1","status":"ok"}}"#,
            #"{"client":2,"call":12,"response":null,"request":{"op":"delete","key":"k"},"answer":null}"#,
        ]
        let parsed = try HistoryFile.parse(lines.joined(separator: "\n"))
        #expect(parsed.operations.map(\.summary) == ["put(\"1\") → ok", "get → unknown (no answer)", "get → \"1\"",
                                                      "delete → unknown (no answer)"])
        let report = try HistoryCheck.check(parsed, file: "recorded", clock: CheckerTests.clock)
        #expect(report.result.verdict == .linearizable)
    }

    /// Puts answered with revisions, a cas by the revision read, a refusal that pins an
    /// unanswered write's revision.
    @Test func casByRevision() throws {
        func check(_ history: [KVOperation]) -> LinearizabilityChecker.Verdict {
            LinearizabilityChecker.check(history, clock: CheckerTests.clock).verdict
        }
        let base = [
            Self.operation(1, .put("a"), 0, 1, .written(revision: 5)),
            Self.operation(2, .casRevision(expectRevision: 5, value: "b"), 2, 3, .written(revision: 8)),
            Self.operation(3, .put("c"), 4, nil, .unknown),
            Self.operation(4, .casRevision(expectRevision: 8, value: "d"), 10, 11, .revisionMismatch(current: "c", modRevision: 12)),
        ]
        #expect(check(base) == .linearizable)
        // The unanswered put got revision 12; a cas expecting 12 then succeeds, one expecting 8 cannot.
        #expect(check(base + [Self.operation(5, .casRevision(expectRevision: 12, value: "e"), 20, 21, .written(revision: 13))]) == .linearizable)
        if case .violation = check(base + [Self.operation(5, .casRevision(expectRevision: 8, value: "e"), 20, 21, .ok(nil))]) {} else {
            Issue.record("a cas by an overwritten revision succeeded")
        }
        // Revisions only rise: a write answered with a revision at or below the key's is impossible.
        if case .violation = check([Self.operation(1, .put("a"), 0, 1, .written(revision: 5)),
                                    Self.operation(2, .put("b"), 2, 3, .written(revision: 5))]) {} else {
            Issue.record("two writes got one revision")
        }
        // A key never written (or deleted) has revision 0.
        #expect(check([Self.operation(1, .casRevision(expectRevision: 0, value: "a"), 0, 1, .written(revision: 2))]) == .linearizable)
    }
}
