import RaftCore
import RaftStorage
import Foundation
import Testing

/// One contract, run against the file store and its in-memory twin.
@Suite struct LogStoreContractTests {
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case file, memory
        var testDescription: String { rawValue }
    }

    /// Makes a store, and a way to reopen it "after a crash".
    func makeStore(_ kind: Kind) -> (store: LogStore, reopen: () -> LogStore) {
        switch kind {
        case .file:
            let path = makeTempDirectory() + "/log01.txt"
            return (FileLogStore(path: path, syncWrites: true), { FileLogStore(path: path, syncWrites: true) })
        case .memory:
            let store = InMemoryLogStore()
            return (store, { store })
        }
    }

    func entries(_ range: ClosedRange<Int>, term: Term) -> [Entry] {
        range.map { Entry(index: $0, term: term, data: "{\"op\":\"put\",\"key\":\"k\($0)\",\"value\":\"v\"}") }
    }

    @Test(arguments: Kind.allCases)
    func appendsSurviveReopening(kind: Kind) throws {
        let (store, reopen) = makeStore(kind)
        #expect(try store.load().entries.isEmpty)
        try store.write(entries(1...3, term: 1))
        try store.write(entries(4...5, term: 2))
        store.close()
        let reopened = reopen()
        #expect(try reopened.load().entries == entries(1...3, term: 1) + entries(4...5, term: 2))
    }

    @Test(arguments: Kind.allCases)
    func writingBelowTheEndReplacesTheSuffix(kind: Kind) throws {
        let (store, reopen) = makeStore(kind)
        _ = try store.load()
        try store.write(entries(1...6, term: 1))
        try store.write(entries(4...4, term: 3))
        store.close()
        let loaded = try reopen().load().entries
        #expect(loaded == entries(1...3, term: 1) + entries(4...4, term: 3))
    }

    @Test(arguments: Kind.allCases)
    func noopEntriesKeepTheirEmptyCommand(kind: Kind) throws {
        let (store, reopen) = makeStore(kind)
        _ = try store.load()
        try store.write([Entry(index: 1, term: 1, data: "")])
        store.close()
        #expect(try reopen().load().entries == [Entry(index: 1, term: 1, data: "")])
    }
}

@Suite struct FileLogStoreTests {
    @Test func commandsComeBackExactlyAsWritten() throws {
        let path = makeTempDirectory() + "/log03.txt"
        let store = FileLogStore(path: path, syncWrites: false)
        _ = try store.load()
        let configuration = ClusterConfiguration(members: [.init(id: 0, isVoter: true), .init(id: 4, isVoter: false, promoteWhenCaughtUp: true)])
        let written = [
            Entry(index: 1, term: 1, data: ""),
            Entry(index: 2, term: 1, data: #"{"op":"put","key":"naïve ✓","value":"line\nbreak \"quoted\" \\ {brace}"}"#),
            Entry(index: 3, term: 12, data: "", configuration: configuration),
            Entry(index: 4, term: 12, data: #"{"op":"cas","key":"k","expect":null,"value":"}"}"#),
            Entry(index: 1_000_000_007, term: 99, data: #"{"op":"delete","key":"\u0001"}"#),
        ]
        try store.write(Array(written[0...3]))
        store.close()
        let reopened = FileLogStore(path: path, syncWrites: false)
        #expect(try reopened.load().entries == Array(written[0...3]))
        reopened.close()
        let other = makeTempDirectory() + "/log04.txt"
        let far = FileLogStore(path: other, syncWrites: false)
        _ = try far.load()
        try far.write([written[4]])
        far.close()
        #expect(try FileLogStore(path: other, syncWrites: false).load().entries == [written[4]])
    }

    func prepared(lines: Int) throws -> String {
        let path = makeTempDirectory() + "/log02.txt"
        let store = FileLogStore(path: path, syncWrites: false)
        _ = try store.load()
        try store.write((1...lines).map { Entry(index: $0, term: 1, data: "{\"op\":\"put\",\"key\":\"k\",\"value\":\"\($0)\"}") })
        store.close()
        return path
    }

    @Test func linesAreJSONWithIndexTermCommandAndChecksum() throws {
        let path = try prepared(lines: 1)
        let text = readText(path)
        #expect(text.hasPrefix("{\"index\":1,\"term\":1,\"command\":{\"op\":\"put\",\"key\":\"k\",\"value\":\"1\"},\"crc\":\""))
        #expect(text.hasSuffix("\"}\n"))
    }

    @Test func tornFinalLineIsDroppedAndCut() throws {
        let path = try prepared(lines: 3)
        let text = readText(path)
        writeText(path, text + "{\"index\":4,\"term\":1,\"comm")
        let store = FileLogStore(path: path, syncWrites: false)
        let loaded = try store.load()
        #expect(loaded.entries.count == 3)
        #expect(loaded.droppedTornTail)
        try store.write([Entry(index: 4, term: 2, data: "")])
        store.close()
        #expect(try FileLogStore(path: path, syncWrites: false).load().entries.map(\.term) == [1, 1, 1, 2])
    }

    @Test func finalLineWithBadChecksumIsTreatedAsTorn() throws {
        let path = try prepared(lines: 3)
        var lines = readText(path).split(separator: "\n").map(String.init)
        lines[2] = lines[2].replacingOccurrences(of: "\"value\":\"3\"", with: "\"value\":\"X\"")
        writeText(path, lines.joined(separator: "\n") + "\n")
        let loaded = try FileLogStore(path: path, syncWrites: false).load()
        #expect(loaded.entries.count == 2 && loaded.droppedTornTail)
    }

    @Test func damageInTheMiddleNamesFileAndLine() throws {
        let path = try prepared(lines: 4)
        var lines = readText(path).split(separator: "\n").map(String.init)
        lines[1] = lines[1].replacingOccurrences(of: "\"value\":\"2\"", with: "\"value\":\"Z\"")
        writeText(path, lines.joined(separator: "\n") + "\n")
        #expect(throws: StorageError.damaged(file: path, line: 2, reason: "checksum mismatch")) {
            try FileLogStore(path: path, syncWrites: false).load()
        }
    }

    @Test func aGapInIndexesIsDamage() throws {
        let path = try prepared(lines: 3)
        let lines = readText(path).split(separator: "\n").map(String.init)
        writeText(path, [lines[0], lines[2], lines[1]].joined(separator: "\n") + "\n")
        #expect(throws: StorageError.self) { try FileLogStore(path: path, syncWrites: false).load() }
    }
}

@Suite struct FileMetaStoreTests {
    @Test func savesAtomicallyAsTheContractShape() throws {
        let directory = makeTempDirectory()
        let store = FileMetaStore(path: directory + "/meta1.txt", syncWrites: true)
        #expect(try store.load() == HardState())
        try store.save(HardState(term: 4, votedFor: 2))
        #expect(readText(directory + "/meta1.txt") == "{\"currentTerm\":4,\"votedFor\":2}\n")
        try store.save(HardState(term: 5, votedFor: nil))
        #expect(readText(directory + "/meta1.txt") == "{\"currentTerm\":5,\"votedFor\":null}\n")
        #expect(try FileMetaStore(path: directory + "/meta1.txt", syncWrites: true).load() == HardState(term: 5))
        #expect(readText(directory + "/meta1.txt.tmp").isEmpty, "the temporary file was renamed away")
    }

    @Test func damagedMetaIsReportedWithTheFile() throws {
        let directory = makeTempDirectory()
        writeText(directory + "/meta0.txt", "{\"currentTerm\":\"x\"}")
        #expect(throws: StorageError.self) { try FileMetaStore(path: directory + "/meta0.txt", syncWrites: false).load() }
    }
}

/// The two-phase compaction of `log0X.txt`: the copy is made off the owner's thread while the
/// owner keeps appending; the commit must add what arrived meanwhile and must refuse a copy the
/// log no longer matches.
@Suite struct FileCompactionTests {
    func entries(_ range: ClosedRange<Int>, term: Term) -> [Entry] {
        range.map { Entry(index: $0, term: term, data: "{\"op\":\"put\",\"key\":\"k\($0)\",\"value\":\"v\"}") }
    }

    func openStore() throws -> (FileLogStore, String) {
        let path = makeTempDirectory() + "/log01.txt"
        let store = FileLogStore(path: path, syncWrites: true)
        _ = try store.load()
        return (store, path)
    }

    @Test func appendsMadeWhileCopyingAreKept() throws {
        let (store, path) = try openStore()
        try store.write(entries(1...10, term: 1))
        let job = try #require(store.prepareCompaction(through: 6))
        try job.run()
        try store.write(entries(11...14, term: 2))  // arrives while the copy was being made
        #expect(try store.commitCompaction(job))
        try store.write(entries(15...15, term: 2))
        store.close()
        let loaded = try FileLogStore(path: path, syncWrites: true).load()
        #expect(loaded.entries == entries(7...10, term: 1) + entries(11...15, term: 2))
        #expect(!FileManager.default.fileExists(atPath: path + ".compact"))
    }

    // Much appended while the copy was made: the commit asks for another round of copying
    // elsewhere (leaving the owner's thread little to do), and what every round added is kept.
    @Test func aCommitAsksForAnotherRoundWhileMuchWasAppended() throws {
        let (store, path) = try openStore()
        try store.write(entries(1...10, term: 1))
        let job = try #require(store.prepareCompaction(through: 6))
        try job.run()
        try store.write(entries(11...30, term: 2))
        #expect(try store.commitCompaction(job, catchUpLimit: 100) == .catchUpFirst)
        try job.run()
        try store.write(entries(31...31, term: 2))
        #expect(try store.commitCompaction(job, catchUpLimit: 100_000) == .committed)
        try store.write(entries(32...32, term: 2))
        store.close()
        let loaded = try FileLogStore(path: path, syncWrites: true).load()
        #expect(loaded.entries == entries(7...10, term: 1) + entries(11...32, term: 2))
    }

    @Test func aTruncationMeanwhileVoidsTheCopy() throws {
        let (store, path) = try openStore()
        try store.write(entries(1...10, term: 1))
        let job = try #require(store.prepareCompaction(through: 4))
        try job.run()
        try store.write(entries(8...9, term: 3))  // a conflict cut entry 8 onwards
        #expect(try store.commitCompaction(job) == false)
        #expect(!FileManager.default.fileExists(atPath: path + ".compact"))
        store.close()
        let loaded = try FileLogStore(path: path, syncWrites: true).load()
        #expect(loaded.entries == entries(1...7, term: 1) + entries(8...9, term: 3))
    }

    @Test func aCompactionInOneGoMeanwhileVoidsTheCopy() throws {
        let (store, path) = try openStore()
        try store.write(entries(1...10, term: 1))
        let job = try #require(store.prepareCompaction(through: 3))
        try job.run()
        try store.compact(through: 5)
        #expect(try store.commitCompaction(job) == false)
        store.close()
        #expect(try FileLogStore(path: path, syncWrites: true).load().entries == entries(6...10, term: 1))
    }

    @Test func aDiscardedJobLeavesNothingBehind() throws {
        let (store, path) = try openStore()
        try store.write(entries(1...5, term: 1))
        let job = try #require(store.prepareCompaction(through: 2))
        try job.run()
        job.discard()
        #expect(!FileManager.default.fileExists(atPath: path + ".compact"))
        store.close()
        #expect(try FileLogStore(path: path, syncWrites: true).load().entries == entries(1...5, term: 1))
    }

    @Test func compactingEverythingLeavesAnEmptyLogThatStillAppends() throws {
        let (store, path) = try openStore()
        try store.write(entries(1...4, term: 1))
        let job = try #require(store.prepareCompaction(through: 4))
        try job.run()
        #expect(try store.commitCompaction(job))
        try store.write(entries(5...6, term: 1))
        store.close()
        #expect(try FileLogStore(path: path, syncWrites: true).load().entries == entries(5...6, term: 1))
    }
}
