import RaftCore
import RaftStorage
import Testing

/// Configurations on disk: as log entries, in snapshot headers, in the bootstrap file.
@Suite struct MembershipStorageTests {
    static let configuration = ClusterConfiguration(members: [
        Member(id: 0, isVoter: true, context: #"{"raft":"127.0.0.1:7100","client":"127.0.0.1:7170"}"#),
        Member(id: 1, isVoter: true),
        Member(id: 4, isVoter: false, promoteWhenCaughtUp: true, context: "opaque \"text\""),
    ])

    @Test func configurationEntriesAreReadableLinesAndComeBack() throws {
        let path = makeTempDirectory() + "/log01.txt"
        let store = FileLogStore(path: path, syncWrites: true)
        _ = try store.load()
        let entries = [Entry(index: 1, term: 1, data: ""), Entry(index: 2, term: 1, data: "", configuration: Self.configuration),
                       Entry(index: 3, term: 1, data: #"{"op":"put","key":"a","value":"b"}"#)]
        try store.write(entries)
        store.close()
        let text = readText(path)
        #expect(text.contains(#"{"index":2,"term":1,"command":{"op":"config","members":[{"id":0,"voter":true,"raft":"127.0.0.1:7100","client":"127.0.0.1:7170"},{"id":1,"voter":true},{"id":4,"voter":false,"promote":true,"context":"opaque \"text\""}]},"crc":""#))
        let reopened = FileLogStore(path: path, syncWrites: true)
        #expect(try reopened.load().entries == entries)
    }

    @Test func snapshotsRecordTheirConfiguration() throws {
        let path = makeTempDirectory() + "/snapshot1.json"
        let store = FileSnapshotStore(path: path, syncWrites: true)
        let snapshot = Snapshot(index: 40, term: 3, data: Array(#"{"a":"1"}"#.utf8), configuration: Self.configuration)
        try store.save(snapshot)
        #expect(try FileSnapshotStore(path: path, syncWrites: true).load() == snapshot)
        // A snapshot written before configurations were recorded still loads (its node uses its bootstrap).
        writeText(path, "{\"index\":5,\"term\":1,\"bytes\":2,\"crc\":\"\(CRC32Hex.of("{}"))\"}\n{}\n")
        #expect(try store.load() == Snapshot(index: 5, term: 1, data: Array("{}".utf8), configuration: nil))
    }

    @Test func theBootstrapConfigurationIsWrittenOnceThenKept() throws {
        let directory = makeTempDirectory()
        let file = BootstrapFile(path: directory + "/bootstrap0.json", syncWrites: true)
        let first = try file.configuration(proposing: .voters([0, 1, 2]))
        #expect(first == .voters([0, 1, 2]))
        // The config file says five nodes now: an existing node keeps the cluster it started.
        #expect(try file.configuration(proposing: .voters([0, 1, 2, 3, 4])) == .voters([0, 1, 2]))
        writeText(directory + "/bootstrap0.json", "{\"members\":[{\"id\":\"zero\"}]}")
        #expect(throws: StorageError.self) { try file.configuration(proposing: .voters([0])) }
    }
}

enum CRC32Hex {
    static func of(_ text: String) -> String {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in text.utf8 {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (0xEDB8_8320 ^ (crc >> 1)) : (crc >> 1) }
        }
        let value = String(crc ^ 0xFFFF_FFFF, radix: 16)
        return String(repeating: "0", count: 8 - value.count) + value
    }
}
