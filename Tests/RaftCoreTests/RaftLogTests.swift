import Testing
@testable import RaftCore

@Suite struct RaftLogTests {
    let log = RaftLog(entries: Harness.entries(terms: [1, 1, 2, 2, 2, 4]))

    @Test func termLookup() {
        #expect(log.term(at: 0) == 0)
        #expect(log.term(at: 3) == 2)
        #expect(log.term(at: 6) == 4)
        #expect(log.term(at: 7) == nil)
        #expect(log.lastIndex == 6 && log.lastTerm == 4)
    }

    // §5.4.1: compare last terms first, then lengths.
    @Test func upToDate_comparesLastTermThenIndex() {
        #expect(log.isUpToDate(lastIndex: 1, lastTerm: 5))
        #expect(log.isUpToDate(lastIndex: 6, lastTerm: 4))
        #expect(!log.isUpToDate(lastIndex: 5, lastTerm: 4))
        #expect(!log.isUpToDate(lastIndex: 100, lastTerm: 3))
    }

    @Test func termSearches_forConflictHints() {
        #expect(log.firstIndex(ofTermAt: 5) == 3)
        #expect(log.firstIndex(ofTermAt: 2) == 1)
        #expect(log.lastIndex(ofTerm: 2) == 5)
        #expect(log.lastIndex(ofTerm: 3) == nil)
        #expect(log.lastIndex(ofTerm: 4) == 6)
        #expect(log.lastIndex(ofTerm: 9) == nil)
    }

    @Test func truncateDropsTheSuffix() {
        var copy = log
        copy.truncate(after: 2)
        #expect(copy.lastIndex == 2 && copy.lastTerm == 1)
    }

    @Test func snapshotBaseOffsetsIndexes() {
        let compacted = RaftLog(snapshotIndex: 10, snapshotTerm: 3,
                                entries: [Entry(index: 11, term: 3, data: "a"), Entry(index: 12, term: 5, data: "b")])
        #expect(compacted.term(at: 10) == 3)
        #expect(compacted.term(at: 9) == nil)
        #expect(compacted.firstIndex(ofTermAt: 11) == 11)
        #expect(compacted.lastIndex(ofTerm: 5) == 12)
    }
}
