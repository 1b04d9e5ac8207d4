#if canImport(Glibc)
import Glibc
#endif
import ClusterServer
import JSONText
import NodeHosting
import RaftCore
import RaftStorage
import Testing

/// `{"admin":"backup"}` on a live cluster and `ClusterRestore` building a new cluster from it:
/// every key comes back with its revisions, the store's revision goes on from where it was, and
/// a directory that holds files is never written into.
@Suite(.serialized) struct BackupRestoreTests {
    func tempDirectory(_ name: String) -> String {
        var template = Array("/tmp/\(name)-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    @Test func aBackupHoldsEveryAcknowledgedWriteAndRestoresIntoANewCluster() throws {
        let cluster = try TestCluster { $0.snapshotEveryEntries = 40 }
        _ = try cluster.awaitLeader()
        let connection = try cluster.connect()
        for number in 0..<100 {
            #expect(try connection.request(#"{"key":"k\#(number)","value":"v\#(number)"}"#) != nil)
        }
        _ = try connection.request(#"{"op":"put","key":"k3","value":"changed"}"#)
        _ = try connection.request(#"{"op":"delete","key":"k4"}"#)
        let folder = tempDirectory("raftkv-backup")
        let path = folder + "/cluster.bak"
        let answer = try cluster.request(#"{"admin":"backup","path":"\#(path)","id":"b"}"#)
        #expect(answer["status"] == .string("ok"), "\(answer)")
        #expect(answer["id"] == .string("b"))
        #expect(answer["revision"]?.intValue == 102, "every acknowledged write is in the backup")
        #expect(answer["keys"]?.intValue == 99)
        let index = try #require(answer["index"]?.intValue)
        let bytes = try #require(answer["bytes"]?.intValue)
        let backup = try BackupFile.read(path)
        #expect(backup.index == index && backup.revision == 102 && backup.keys == 99)
        var info = stat()
        #expect(stat(path, &info) == 0 && Int(info.st_size) == bytes)

        // A path the server cannot write to: an error, and the cluster goes on.
        let refused = try cluster.request(#"{"admin":"backup","path":"/nonexistent-dir/x.bak"}"#)
        #expect(refused["status"] == .string("error") && refused["code"] == .string("bad_request"), "\(refused)")
        #expect(refused["error"]?.stringValue?.contains("/nonexistent-dir/x.bak") == true)

        // Restore into a new directory and start a cluster of five on it.
        let target = tempDirectory("raftkv-restored") + "/data"
        let summary = try ClusterRestore.restore(backupPath: path, into: DataDirectory(path: target), configuration: .voters([0, 1, 2, 3, 4]),
                                                 fsync: false)
        #expect(summary.nodes == [0, 1, 2, 3, 4] && summary.files.count == 20)
        let restored = try TestCluster(nodes: 5) { $0.dataDir = target }
        _ = try restored.awaitLeader()
        let reader = try restored.connect()
        let k3 = try #require(try reader.request(#"{"op":"get","key":"k3","consistency":"linearizable","revisions":true}"#))
        #expect(k3 == #"{"key":"k3","value":"changed","status":"ok","createRevision":4,"modRevision":101,"version":2,"revision":102}"#)
        #expect(try reader.request(#"{"op":"get","key":"k4","consistency":"linearizable"}"#)?.contains("not_found") == true)
        let range = try JSONParser.parse(try #require(try reader.request(#"{"op":"range","consistency":"linearizable","limit":1000}"#)))
        #expect(range.objectValue?["items"]?.arrayValue?.count == 99)
        let next = try #require(try reader.request(#"{"op":"put","key":"new","value":"1","revisions":true}"#))
        #expect(next.contains(#""revision":103"#), "the revision goes on from the backup's: \(next)")
        let status = try restored.status()
        #expect(status["nodes"]?.arrayValue?.count == 5)
    }

    @Test func restoreRefusesADirectoryThatHoldsFilesAndADamagedBackup() throws {
        let folder = tempDirectory("raftkv-backup-refuse")
        let path = folder + "/b.bak"
        try BackupFile.write(Backup(index: 3, term: 1, revision: 0, keys: 0, createdMs: 0, state: Array("{}".utf8)), to: path)
        let busy = tempDirectory("raftkv-busy")
        let keep = busy + "/keep.txt"
        let file = fopen(keep, "w")!
        fputs("mine\n", file)
        fclose(file)
        #expect(throws: ClusterRestore.Problem.self) {
            try ClusterRestore.restore(backupPath: path, into: DataDirectory(path: busy), configuration: .voters([0]), fsync: false)
        }
        #expect(ClusterRestore.entriesOf(busy) == ["keep.txt"], "nothing was written into a directory that held files")

        // A backup whose header disagrees with its state (checksums right, contents wrong) is refused too.
        let lying = folder + "/lying.bak"
        try BackupFile.write(Backup(index: 3, term: 1, revision: 9, keys: 4, createdMs: 0, state: Array("{}".utf8)), to: lying)
        let empty = folder + "/new"
        do {
            _ = try ClusterRestore.restore(backupPath: lying, into: DataDirectory(path: empty), configuration: .voters([0]), fsync: false)
            Issue.record("a backup whose header disagrees with its state was restored")
        } catch {
            #expect(error.description.contains("revision 9"), "\(error)")
        }
        #expect(access(empty, F_OK) != 0, "nothing was created for a refused backup")

        // The members' addresses go into the new configuration, as a config with members bootstraps it.
        let members = folder + "/members"
        let configuration = ClusterConfiguration(members: [
            Member(id: 0, isVoter: true, context: MemberAddresses(raft: "127.0.0.1:7100", client: "127.0.0.1:7170").context),
            Member(id: 1, isVoter: true, context: MemberAddresses(raft: "127.0.0.1:7101", client: "127.0.0.1:7171").context),
        ])
        _ = try ClusterRestore.restore(backupPath: path, into: DataDirectory(path: members), configuration: configuration, fsync: false)
        let snapshot = try #require(try FileSnapshotStore(path: members + "/snapshot1.json", syncWrites: false).load())
        #expect(snapshot.configuration == configuration && snapshot.index == 3 && snapshot.term == 1)
        #expect(try FileMetaStore(path: members + "/meta0.txt", syncWrites: false).load() == HardState(term: 1, votedFor: nil))
    }
}
