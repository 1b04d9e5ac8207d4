import ClusterServer
import Synchronization
import Testing
import NodeHosting
import RuntimeSupport

@Suite struct EventLogTests {
    @Test func textLinesCarryTimeNodeAndMessage() {
        #expect(EventLog.format(level: .info, node: 2, message: "became leader in term 3", format: .text, timestamp: "12:04:31.207")
                == "12:04:31.207 node 2   became leader in term 3")
        #expect(EventLog.format(level: .warning, node: nil, message: "partition applied: 0 | 1,2", format: .text, timestamp: "12:00:00.000")
                == "12:00:00.000 cluster  WARNING: partition applied: 0 | 1,2")
    }

    @Test func jsonLinesAreOneObjectEach() {
        #expect(EventLog.format(level: .info, node: 1, message: "vote granted to node 2 for term 4", format: .json, timestamp: "01:02:03.004")
                == #"{"time":"01:02:03.004","level":"info","node":1,"event":"vote granted to node 2 for term 4"}"#)
    }

    @Test func levelsFilter() {
        let collector = LineCollector()
        let log = EventLog(minimumLevel: .warning, sink: { collector.append($0) })
        log.log(.info, node: 0, "hidden")
        log.log(.error, node: 0, "shown")
        #expect(collector.lines.count == 1 && collector.lines[0].hasSuffix("ERROR: shown"))
    }

    /// A function kept in a lock used to gain a wrapper with every read, until a call overflowed
    /// the stack (the web page's feed observes every event).
    @Test func anObserverSurvivesAHalfMillionEvents() {
        let seen = Atomic<Int>(0)
        let log = EventLog(minimumLevel: .error, sink: { _ in })
        log.observe { _ in seen.add(1, ordering: .relaxed) }
        for number in 0..<500_000 { log.log(.info, node: 0, "event \(number)") }
        #expect(seen.load(ordering: .relaxed) == 500_000)
    }
}
