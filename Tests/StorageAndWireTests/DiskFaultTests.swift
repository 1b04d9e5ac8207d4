import RaftCore
import RaftStorage
import Testing

/// The disk a classroom can break: full, slow, and power cuts that lose what was not fsynced.
@Suite struct DiskFaultTests {
    func entries(_ range: ClosedRange<Int>, term: Term = 1) -> [Entry] {
        range.map { Entry(index: $0, term: term, data: "{\"op\":\"put\",\"key\":\"k\($0)\",\"value\":\"v\"}") }
    }

    @Test func aFullDiskRefusesWritesAndLeavesTheFileWhole() throws {
        let path = makeTempDirectory() + "/log00.txt"
        let disk = DiskFaults()
        let store = FileLogStore(path: path, syncWrites: true, disk: disk)
        _ = try store.load()
        try store.write(entries(1...3))
        disk.full = true
        #expect(throws: StorageError.self) { try store.write(self.entries(4...6)) }
        #expect(throws: StorageError.self) { try FileMetaStore(path: path + ".meta", syncWrites: true, disk: disk).save(HardState(term: 2, votedFor: 1)) }
        store.close()
        disk.heal()
        let reopened = FileLogStore(path: path, syncWrites: true, disk: disk)
        let loaded = try reopened.load()
        #expect(loaded.entries == entries(1...3))
        #expect(!loaded.droppedTornTail, "nothing of the refused write reached the file")
        try reopened.write(entries(4...4))
        #expect(try FileLogStore(path: path, syncWrites: true).load().entries == entries(1...4))
    }

    @Test func aPowerCutKeepsWhatWasSyncedAndNothingElse() throws {
        let directory = makeTempDirectory()
        let disk = DiskFaults()
        let synced = FileLogStore(path: directory + "/log00.txt", syncWrites: true, disk: disk)
        _ = try synced.load()
        try synced.write(entries(1...5))
        let meta = FileMetaStore(path: directory + "/meta0.txt", syncWrites: true, disk: disk)
        try meta.save(HardState(term: 3, votedFor: 2))
        synced.close()
        #expect(disk.losePowerCut().isEmpty, "with fsync on, everything written was synced")
        #expect(try FileLogStore(path: directory + "/log00.txt", syncWrites: true).load().entries == entries(1...5))
        #expect(try FileMetaStore(path: directory + "/meta0.txt", syncWrites: true).load() == HardState(term: 3, votedFor: 2))
    }

    @Test func aPowerCutWithFsyncOffLosesTheUnsyncedWritesAndRenames() throws {
        let directory = makeTempDirectory()
        let disk = DiskFaults()
        // What is on disk when the node starts survived: it is the baseline.
        let before = FileLogStore(path: directory + "/log00.txt", syncWrites: true)
        _ = try before.load()
        try before.write(entries(1...2))
        before.close()
        try FileMetaStore(path: directory + "/meta0.txt", syncWrites: true).save(HardState(term: 1, votedFor: 0))

        let log = FileLogStore(path: directory + "/log00.txt", syncWrites: false, disk: disk)
        #expect(try log.load().entries.count == 2)
        try log.write(entries(3...6))
        let meta = FileMetaStore(path: directory + "/meta0.txt", syncWrites: false, disk: disk)
        try meta.save(HardState(term: 4, votedFor: 1))
        log.close()
        let report = disk.losePowerCut()
        #expect(report.count == 2, "\(report)")
        #expect(try FileLogStore(path: directory + "/log00.txt", syncWrites: true).load().entries == entries(1...2))
        #expect(try FileMetaStore(path: directory + "/meta0.txt", syncWrites: true).load() == HardState(term: 1, votedFor: 0),
                "the rename was never made durable by a directory fsync: the old meta file is back")
    }

    @Test func aSlowDiskMakesEveryFsyncSlower() throws {
        let path = makeTempDirectory() + "/log00.txt"
        let disk = DiskFaults()
        let store = FileLogStore(path: path, syncWrites: true, disk: disk)
        _ = try store.load()
        disk.slowSyncMs = 40
        let started = monotonicMilliseconds()
        try store.write(entries(1...1))
        #expect(monotonicMilliseconds() - started >= 40)
        #expect(disk.syncCount >= 1)
    }
}

#if canImport(Glibc)
import Glibc
#endif

func monotonicMilliseconds() -> Int {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return spec.tv_sec * 1000 + spec.tv_nsec / 1_000_000
}
