import LinCheck
import Testing

/// Histories made by `SyntheticHistory` (what `KVBench make-history` writes) read back in their
/// format and are linearizable; with one read answered wrongly they are not.
@Suite struct SyntheticHistoryTests {
    static func check(_ text: String) throws -> HistoryCheck.Report {
        try HistoryCheck.check(HistoryFile.parse(text), file: "made", clock: CheckerTests.clock)
    }

    @Test("a Jepsen-style register history with crashed clients is linearizable", arguments: [1, 2, 3] as [UInt64])
    func jepsenRegister(seed: UInt64) throws {
        let text = SyntheticHistory.make(.jepsenRegister, operations: 600, clients: 8, crashRate: 0.1, seed: seed)
        #expect(text.contains(":info"), "some clients crashed")
        let report = try Self.check(text)
        #expect(report.format == .jepsenLog && report.result.verdict == .linearizable)
        #expect(report.result.operations > 400, "\(report.result.operations) operations kept (failed ones are left out)")
    }

    @Test func labKeyValue() throws {
        let text = SyntheticHistory.make(.labKV(keys: 4), operations: 1000, clients: 6, crashRate: 0.02, seed: 7)
        let report = try Self.check(text)
        #expect(report.format == .jepsenEDN && report.model == .kv && report.result.keys == 4)
        #expect(report.result.verdict == .linearizable)
        // The last read of some key, answered with something no one ever held:
        var lines = text.split(separator: "\n").map(String.init)
        guard let last = lines.lastIndex(where: { $0.contains(":type :ok, :f :get") && !$0.contains(":value \"\"") }) else {
            Issue.record("no read with a value")
            return
        }
        lines[last] = lines[last].replacingFirst(":value \"", with: ":value \"never written ")
        guard case .violation = try Self.check(lines.joined(separator: "\n")).result.verdict else {
            Issue.record("a read of a value never written was accepted")
            return
        }
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        var result = self
        result.replaceSubrange(range, with: replacement)
        return result
    }
}
