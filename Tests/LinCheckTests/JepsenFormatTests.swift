import LinCheck
import Testing

/// Verdicts on hand-written Jepsen histories, in log lines and in EDN maps, including the
/// tricky readings: a failed cas, an `:info` write that must have happened, a crashed process
/// replaced by a new id, and `:fail :read :timed-out`.
@Suite struct JepsenFormatTests {
    static func report(_ lines: [String], options: HistoryCheck.Options = HistoryCheck.Options()) throws -> HistoryCheck.Report {
        let history = try HistoryFile.parse(lines.joined(separator: "\n"), failedCASIsRefusal: options.failedCASIsRefusal)
        return try HistoryCheck.check(history, file: "test", options: options, clock: CheckerTests.clock)
    }

    /// Jepsen log lines from compact events: "3 invoke cas [1 2]".
    static func log(_ events: String...) -> [String] {
        events.map { event in
            let parts = event.split(separator: " ", maxSplits: 3).map(String.init)
            return "INFO  jepsen.util - \(parts[0])\t:\(parts[1])\t:\(parts[2])\t\(parts.count > 3 ? parts[3] : "nil")"
        }
    }

    @Test func aRegisterHistoryThatCanBeOrdered() throws {
        let report = try Self.report(Self.log("0 invoke write 1", "1 invoke read nil", "0 ok write 1", "1 ok read 1",
                                              "2 invoke cas [1 2]", "2 ok cas [1 2]", "0 invoke read nil", "0 ok read 2"))
        #expect(report.result.verdict == .linearizable)
        #expect(report.exitStatus == 0)
        #expect(report.format == .jepsenLog && report.model == .register && report.result.operations == 4)
    }

    @Test func aStaleReadIsNotLinearizableAndExplained() throws {
        let report = try Self.report(Self.log("0 invoke write 1", "0 ok write 1", "1 invoke write 2", "1 ok write 2",
                                              "2 invoke read nil", "2 ok read 1"))
        guard case .violation(let key, let minimal) = report.result.verdict else {
            Issue.record("a stale read was not caught")
            return
        }
        #expect(key == "register" && minimal.count == 3 && report.exitStatus == 1)
        #expect(report.text.contains("process 2  [line 5 – line 6]  get → \"1\""))
        #expect(report.json.contains("\"verdict\":\"not linearizable\"") && report.json.contains("\"minimal\":["))
        #expect(report.html?.contains("<svg") == true)
    }

    /// The register held 1 when the cas [1 2] was called, and only the concurrent write of 3
    /// can explain its refusal: so that write came first, and a read after the refusal must see
    /// 3, not 1 — although the write of 3 had not yet returned.
    @Test func aFailedCASMustHaveFailed() throws {
        let start = Self.log("0 invoke write 1", "0 ok write 1", "2 invoke write 3", "1 invoke cas [1 2]", "1 fail cas [1 2]",
                             "3 invoke read nil")
        let concurrent = start + Self.log("3 ok read 1", "2 ok write 3")
        #expect(try Self.report(start + Self.log("3 ok read 3", "2 ok write 3")).result.verdict == .linearizable)
        guard case .violation = try Self.report(concurrent).result.verdict else {
            Issue.record("a refused cas while the register held its expected value was accepted")
            return
        }
        // Read as "did not happen" only, the cas constrains nothing.
        let noEffect = HistoryCheck.Options(failedCASIsRefusal: false)
        #expect(try Self.report(concurrent, options: noEffect).result.verdict == .linearizable)
        // Alone after the write of 1, the refusal is impossible.
        guard case .violation = try Self.report(Self.log("0 invoke write 1", "0 ok write 1", "1 invoke cas [1 2]", "1 fail cas [1 2]")).result.verdict
        else {
            Issue.record("a cas refused while the register held its expected value was accepted")
            return
        }
    }

    @Test func anInfoWriteThatMustHaveHappened() throws {
        let crashed = Self.log("0 invoke write 1", "0 ok write 1", "1 invoke write 2", "1 info write :timed-out")
        #expect(try Self.report(crashed + Self.log("5 invoke read nil", "5 ok read 2", "6 invoke read nil", "6 ok read 2")).result.verdict
                == .linearizable)
        // ...and then it cannot be undone: a later read of 1 is stale.
        guard case .violation = try Self.report(crashed + Self.log("5 invoke read nil", "5 ok read 2", "6 invoke read nil", "6 ok read 1")).result.verdict
        else {
            Issue.record("a write was undone")
            return
        }
        // It may not take effect before it was called.
        guard case .violation = try Self.report(Self.log("5 invoke read nil", "5 ok read 2") + crashed).result.verdict else {
            Issue.record("a value was read before it was written")
            return
        }
    }

    /// Process 1 crashes during its write; Jepsen gives its client a new id, 6, whose
    /// operations are new ones, while the crashed write stays open to the end.
    @Test func aCrashedProcessIsReplacedByANewID() throws {
        let report = try Self.report(Self.log("1 invoke write 2", "1 info write :timed-out", "6 invoke write 3", "6 ok write 3",
                                              "6 invoke read nil", "6 ok read 2", "0 invoke read nil", "0 ok read 2"))
        #expect(report.result.verdict == .linearizable, "the crashed write of 2 landed after the write of 3")
        #expect(report.result.operations == 4)
    }

    @Test func aReadThatTimedOutDidNotHappen() throws {
        let report = try Self.report(Self.log("0 invoke write 1", "0 ok write 1", "1 invoke read nil", "1 fail read :timed-out",
                                              "2 invoke read nil", "2 ok read 1"))
        #expect(report.result.verdict == .linearizable)
        #expect(report.result.operations == 2, "the failed read is not an operation")
    }

    /// Two crashed writes of the same value, both needed: 1, then 2, then 1 again.
    @Test func identicalCrashedWritesCanBothHappen() throws {
        let report = try Self.report(Self.log("0 invoke write 1", "0 info write :timed-out", "1 invoke write 1", "1 info write :timed-out",
                                              "2 invoke read nil", "2 ok read 1", "2 invoke write 2", "2 ok write 2",
                                              "2 invoke read nil", "2 ok read 1"))
        #expect(report.result.verdict == .linearizable)
    }

    @Test func ednKeyValueHistories() throws {
        let good = [
            "{:process 0, :type :invoke, :f :append, :key \"4\", :value \"x 0 1 y\"}",
            "{:process 1, :type :invoke, :f :get, :key \"4\", :value nil}",
            "{:process 0, :type :ok, :f :append, :key \"4\", :value \"x 0 1 y\"}",
            "{:process 1, :type :ok, :f :get, :key \"4\", :value \"\"}",
            "{:process 0, :type :invoke, :f :append, :key \"4\", :value \"x 0 2 y\"}",
            "{:process 0, :type :ok, :f :append, :key \"4\", :value \"x 0 2 y\"}",
            "{:process 1, :type :invoke, :f :get, :key \"4\", :value nil}",
            "{:process 1, :type :ok, :f :get, :key \"4\", :value \"x 0 1 yx 0 2 y\"}",
            "{:process 2, :type :invoke, :f :put, :key \"5\", :value \"a\"}",
            "{:process 2, :type :ok, :f :put, :key \"5\", :value \"a\"}",
            "{:process 2, :type :invoke, :f :cas, :key \"5\", :value [\"a\" \"b\"]}",
            "{:process 2, :type :ok, :f :cas, :key \"5\", :value [\"a\" \"b\"]}",
            "{:process 2, :type :invoke, :f :delete, :key \"5\", :value nil}",
            "{:process 2, :type :ok, :f :delete, :key \"5\", :value nil}",
            "{:process 2, :type :invoke, :f :get, :key \"5\", :value nil}",
            "{:process 2, :type :ok, :f :get, :key \"5\", :value nil}",
            "{:process :nemesis, :type :info, :f :start, :value nil}",
        ]
        let report = try Self.report(good)
        #expect(report.result.verdict == .linearizable)
        #expect(report.format == .jepsenEDN && report.model == .kv && report.result.keys == 2)
        var lost = good
        lost[7] = "{:process 1, :type :ok, :f :get, :key \"4\", :value \"x 0 2 y\"}"  // the first append vanished
        guard case .violation(let key, _) = try Self.report(lost).result.verdict else {
            Issue.record("a lost append was not caught")
            return
        }
        #expect(key == "4")
        #expect(throws: HistoryFile.Failure.self) { try Self.report(good, options: HistoryCheck.Options(model: .register)) }
    }

    @Test func unreadableInputIsRefusedClearly() {
        #expect(throws: HistoryFile.Failure.self) { try HistoryFile.parse("hello\nworld\n") }
        #expect(throws: HistoryFile.Failure.self) { try HistoryFile.parse("{:process 0, :type :invoke, :f :frobnicate, :key \"1\"}") }
        #expect(throws: HistoryFile.Failure.self) { try HistoryFile.read(path: "/nonexistent/history.log") }
    }
}
