#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import JSONText
import RaftCore

/// `snapshotX.json`: a header line, then the state machine's bytes:
///
///     {"index":10000,"term":3,"bytes":48213,"crc":"9a0c4f12"}
///     {"apple":"red","kiwi":"green",...}
///
/// Written to a temporary file, fsynced, renamed over the old snapshot, directory fsynced, so a
/// crash leaves the old snapshot or the new one. The header's size and CRC-32 catch damage.
/// `prepare` (any thread) and `commit(prepared:)` (the owner's queue) split the slow write from
/// the rename, so a node can serialize a large snapshot without stopping.
public final class FileSnapshotStore: SnapshotStore, @unchecked Sendable {
    public let path: String
    public let syncWrites: Bool

    public init(path: String, syncWrites: Bool) {
        self.path = path
        self.syncWrites = syncWrites
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
        let start = newline + 1
        guard bytes.count >= start + size else {
            throw .damaged(file: path, line: 2, reason: "expected \(size) bytes of state, found \(bytes.count - start)")
        }
        let data = Array(bytes[start..<(start + size)])
        guard CRC32.hex(CRC32.checksum(data)) == crc else {
            throw .damaged(file: path, line: 2, reason: "checksum mismatch")
        }
        return Snapshot(index: index, term: term, data: data)
    }

    public func save(_ snapshot: Snapshot) throws(StorageError) {
        try commit(prepared: try prepare(snapshot))
    }

    /// Writes and syncs a temporary file named after the snapshot's index, and returns its path.
    /// Safe to call off the owner's queue.
    public func prepare(_ snapshot: Snapshot) throws(StorageError) -> String {
        let temporaryPath = path + ".\(snapshot.index).tmp"
        let header = "{\"index\":\(snapshot.index),\"term\":\(snapshot.term),\"bytes\":\(snapshot.data.count),\"crc\":\"\(CRC32.hex(CRC32.checksum(snapshot.data)))\"}\n"
        var bytes = Array(header.utf8)
        bytes.append(contentsOf: snapshot.data)
        bytes.append(0x0A)
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(file: temporaryPath, operation: "open", errno: errno) }
        defer { Glibc.close(fd) }
        try FileIO.writeAll(fd: fd, bytes, at: 0, path: temporaryPath)
        if syncWrites { try FileIO.syncData(fd: fd, path: temporaryPath) }
        return temporaryPath
    }

    /// Renames a prepared file into place and makes the rename durable.
    public func commit(prepared temporaryPath: String) throws(StorageError) {
        if rename(temporaryPath, path) != 0 { throw .io(file: path, operation: "rename", errno: errno) }
        if syncWrites { try DataDirectory.syncDirectory(containing: path) }
    }

    public func discard(prepared temporaryPath: String) {
        unlink(temporaryPath)
    }
}
