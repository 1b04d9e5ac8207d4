#if canImport(Glibc)
import Glibc
#endif
import JSONText
import KVStore
import KVWire
import RaftStorage
import Testing

/// The backup file: what is written reads back the same, and damage anywhere — every byte
/// changed, every cut, bytes added — is refused with a message, never read as a backup.
@Suite struct BackupFileTests {
    func sampleBackup(keys: Int = 5) -> Backup {
        var machine = KVStateMachine()
        for number in 0..<keys {
            _ = machine.apply(KVCommand(.put(key: "k\(number)", value: "value \(number)", lease: nil)), at: number + 1)
        }
        _ = machine.apply(KVCommand(.put(key: "k1", value: "again", lease: nil)), at: keys + 1)
        return Backup(index: keys + 1, term: 3, revision: machine.revision, keys: machine.count, createdMs: 1_767_225_600_000,
                      state: KVStateMachine.serialize(machine.freeze()))
    }

    @Test func whatIsWrittenReadsBackTheSame() throws {
        let backup = sampleBackup()
        let bytes = BackupFile.encode(backup)
        #expect(String(decoding: bytes.prefix(16), as: UTF8.self) == "RAFTKV-BACKUP 1\n")
        #expect(try BackupFile.decode(bytes) == backup)
        let restored = try KVStateMachine(restoring: try BackupFile.decode(bytes).state, appliedIndex: backup.index)
        #expect(restored.get("k1") == "again" && restored.record("k1")?.version == 2 && restored.revision == 6)
    }

    @Test func everyChangedByteIsCaught() {
        let bytes = BackupFile.encode(sampleBackup())
        for position in bytes.indices {
            for flip: UInt8 in [0x01, 0x20, 0x80] {
                var damaged = bytes
                damaged[position] ^= flip
                #expect(throws: BackupFile.Problem.self, "byte \(position) ^ \(flip) went unnoticed") {
                    try BackupFile.decode(damaged)
                }
            }
        }
    }

    @Test func everyCutAndEveryAdditionIsCaught() {
        let bytes = BackupFile.encode(sampleBackup())
        for length in 0..<bytes.count {
            #expect(throws: BackupFile.Problem.self, "a file cut to \(length) bytes went unnoticed") {
                try BackupFile.decode(Array(bytes.prefix(length)))
            }
        }
        for extra in [[UInt8(0x0A)], Array("x".utf8), Array("end 00000000\n".utf8)] {
            #expect(throws: BackupFile.Problem.self) { try BackupFile.decode(bytes + extra) }
        }
        // A byte taken out of the middle of the state (the length no longer adds up).
        var shorter = bytes
        shorter.remove(at: bytes.count / 2)
        #expect(throws: BackupFile.Problem.self) { try BackupFile.decode(shorter) }
    }

    @Test func theMessagesSayWhatIsWrong() {
        let bytes = BackupFile.encode(sampleBackup())
        func problem(_ damaged: [UInt8]) -> String {
            do {
                _ = try BackupFile.decode(damaged)
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(problem([]).contains("empty"))
        #expect(problem(Array("{\"index\":1}\n".utf8)).contains("not a RaftKV backup"))
        #expect(problem(Array("RAFTKV-BACKUP 9\n{}\n".utf8)).contains("unsupported backup format"))
        #expect(problem(Array(bytes.prefix(bytes.count - 5))).contains("truncated"))
        var header = bytes
        header[20] ^= 0x01
        #expect(problem(header).contains("header is damaged"))
        var state = bytes
        state[state.count - 20] ^= 0x01
        #expect(problem(state).contains("state is damaged"))
    }

    @Test func writingIsAtomicAndTheFileReadsBack() throws {
        let directory = makeTempDirectory("raftkv-backup")
        let path = directory + "/backup.bak"
        let backup = sampleBackup(keys: 300)
        let size = try BackupFile.write(backup, to: path)
        #expect(size == BackupFile.encode(backup).count)
        #expect(access(path + ".tmp", F_OK) != 0, "the temporary file was renamed into place")
        #expect(try BackupFile.read(path) == backup)
        // Writing again replaces the file whole.
        let second = sampleBackup(keys: 10)
        try BackupFile.write(second, to: path)
        #expect(try BackupFile.read(path) == second)
        #expect(throws: BackupFile.Problem.self) { try BackupFile.read(directory + "/missing.bak") }
        #expect(throws: StorageError.self) { try BackupFile.write(second, to: directory + "/no/such/dir/b.bak") }
    }

    @Test func theAdminRequestParsesAndEncodes() throws {
        let parsed = RequestParser.parse(ArraySlice(#"{"admin":"backup","path":"/tmp/b.bak","id":4}"#.utf8), limits: WireLimits())
        #expect(try parsed.result.get() == .admin(.backup(path: "/tmp/b.bak")))
        #expect(RequestEncoder.line(.admin(.backup(path: "/tmp/b.bak"))) == #"{"admin":"backup","path":"/tmp/b.bak"}"#)
        for bad in [#"{"admin":"backup"}"#, #"{"admin":"backup","path":""}"#, #"{"admin":"backup","path":7}"#] {
            let result = RequestParser.parse(ArraySlice(bad.utf8), limits: WireLimits()).result
            #expect(throws: RequestError.self, "\(bad)") { try result.get() }
        }
    }
}
