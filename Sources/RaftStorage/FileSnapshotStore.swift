#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Checksum
import JSONText
import RaftCore

/// `snapshotX.json`: a header line, then the state machine's bytes:
///
///     {"index":10000,"term":3,"bytes":48213,"crc":"9a0c4f12","configuration":{"op":"config","members":[...]}}
///     {"apple":"red","kiwi":"green",...}
///
/// Written to a temporary file, fsynced, renamed over the old snapshot, directory fsynced, so a
/// crash leaves the old snapshot or the new one. The header's size and CRC-32 catch damage.
/// `configuration` is the membership in force at `index` (absent in snapshots written before
/// membership changes existed). `prepare` (any thread) and `commit` (the owner's queue) split
/// the slow write from the rename, so a node can serialize a large snapshot without stopping.
public final class FileSnapshotStore: SnapshotStore, @unchecked Sendable {
    public let path: String
    public let syncWrites: Bool
    let disk: DiskFaults?

    public init(path: String, syncWrites: Bool, disk: DiskFaults? = nil) {
        self.path = path
        self.syncWrites = syncWrites
        self.disk = disk
    }

    public func load() throws(StorageError) -> Snapshot? {
        guard let bytes = try FileReader.read(path) else { return nil }
        guard let newline = bytes.firstIndex(of: 0x0A) else {
            throw .damaged(file: path, line: 1, reason: "no header line")
        }
        guard case .object(let header)? = try? JSONParser.parse(Array(bytes[..<newline])),
              let index = header["index"]?.intValue, let term = header["term"]?.intValue,
              let size = header["bytes"]?.intValue, let crc = header["crc"]?.stringValue else {
            throw .damaged(file: path, line: 1, reason: "the header needs index, term, bytes and crc")
        }
        var configuration: ClusterConfiguration?
        if let value = header["configuration"] {
            do {
                configuration = try ConfigurationCodec.decode(value)
            } catch {
                throw .damaged(file: path, line: 1, reason: "the configuration is unreadable: \(error)")
            }
        }
        let start = newline + 1
        guard bytes.count >= start + size else {
            throw .damaged(file: path, line: 2, reason: "expected \(size) bytes of state, found \(bytes.count - start)")
        }
        let data = Array(bytes[start..<(start + size)])
        guard CRC32.hex(CRC32.checksum(data)) == crc else {
            throw .damaged(file: path, line: 2, reason: "checksum mismatch")
        }
        return Snapshot(index: index, term: term, data: data, configuration: configuration)
    }

    /// Writes and syncs a temporary file named after the snapshot's index. Safe to call off the
    /// owner's queue.
    public func prepare(_ snapshot: Snapshot) throws(StorageError) -> PreparedSnapshot {
        let temporaryPath = path + ".\(snapshot.index).tmp"
        var header = "{\"index\":\(snapshot.index),\"term\":\(snapshot.term),\"bytes\":\(snapshot.data.count),\"crc\":\"\(CRC32.hex(CRC32.checksum(snapshot.data)))\""
        if let configuration = snapshot.configuration {
            header += ",\"configuration\":" + ConfigurationCodec.text(configuration)
        }
        header += "}\n"
        var bytes = Array(header.utf8)
        bytes.append(contentsOf: snapshot.data)
        bytes.append(0x0A)
        try AtomicFile.stage(bytes, at: temporaryPath, disk: disk, sync: syncWrites).close()
        return PreparedSnapshot(snapshot: snapshot, temporaryPath: temporaryPath)
    }

    /// Renames a prepared file into place and makes the rename durable.
    public func commit(_ prepared: PreparedSnapshot) throws(StorageError) {
        guard let temporaryPath = prepared.temporaryPath else { return }
        try AtomicFile.install(temporaryPath, over: path, disk: disk, sync: syncWrites)
    }

    public func discard(_ prepared: PreparedSnapshot) {
        if let temporaryPath = prepared.temporaryPath { unlink(temporaryPath) }
    }
}
