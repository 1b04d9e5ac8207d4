#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Checksum
import JSONText
import RaftCore
import Synchronization

/// `snapshotX.json`: a header line, then the state machine's bytes:
///
///     {"index":10000,"term":3,"bytes":48213    ,"crc":"9a0c4f12","configuration":{"op":"config","members":[...]}}
///     <the state machine's bytes>
///
/// The state is streamed to a temporary file as it is serialized (never held whole in memory),
/// the header — whose size and CRC-32 are known only at the end — is written last over a
/// placeholder of the same length (JSON allows the spaces the padding leaves), then the file is
/// fsynced, renamed over the old snapshot and the directory fsynced, so a crash leaves the old
/// snapshot or the new one. `configuration` is the membership in force at `index` (absent in
/// snapshots written before membership changes existed).
///
/// A snapshot this store hands out (loaded, or just written) keeps its bytes in the file: the
/// node reads them back when a follower needs them or when it loads its state, through a file
/// descriptor it holds, so a newer snapshot renamed over the name does not change them. `load`
/// reads only the header; `verify` checks the bytes against it.
///
/// All methods may be called from any thread: commits are ordered by index under a lock, so a
/// snapshot serialized in the background never replaces a newer one received from a leader.
public final class FileSnapshotStore: SnapshotStore, Sendable {
    public let path: String
    public let syncWrites: Bool
    let disk: DiskFaults?
    /// The index of the snapshot the file holds (-1: not known yet).
    private let storedIndex = Mutex<Int>(-1)

    public init(path: String, syncWrites: Bool, disk: DiskFaults? = nil) {
        self.path = path
        self.syncWrites = syncWrites
        self.disk = disk
    }

    /// The snapshot's index, term and configuration, with its bytes left in the file (checked by
    /// size here and by checksum in `verify` or when the state is loaded from them).
    public func load() throws(StorageError) -> Snapshot? {
        guard let file = try FileSnapshotBytes.open(path) else {
            storedIndex.withLock { $0 = 0 }
            return nil
        }
        let snapshot = try file.header.snapshot(data: SnapshotData(source: file))
        storedIndex.withLock { $0 = snapshot.index }
        return snapshot
    }

    /// Writes a new snapshot to a temporary file named after its index — `write` hands the state
    /// machine's bytes to the sink it is given — and syncs it. Safe to call on any thread.
    public func prepare(index: LogIndex, term: Term, configuration: ClusterConfiguration?,
                        writing write: (any SnapshotSink) throws -> Void) throws(StorageError) -> PreparedSnapshot {
        let temporaryPath = path + ".\(index).tmp"
        let header = SnapshotHeader(index: index, term: term, bytes: 0, crc: 0, configuration: configuration)
        let headerLength = header.text(padded: true).utf8.count
        let file = try FileIO.create(temporaryPath, disk: disk)
        defer { file.close() }
        let sink = SnapshotFileSink(file: file, start: headerLength, sync: syncWrites)
        do {
            try write(sink)
            try sink.finish()
        } catch let error as StorageError {
            unlink(temporaryPath)
            throw error
        } catch {
            unlink(temporaryPath)
            throw .damaged(file: temporaryPath, line: 0, reason: "the state machine could not write its snapshot: \(error)")
        }
        var done = header
        done.bytes = sink.written
        done.crc = sink.checksum.value
        do {
            try file.write(Array(done.text(padded: true).utf8), at: 0)
            try file.write([0x0A], at: headerLength + sink.written)
            if syncWrites { try file.sync() }
        } catch {
            unlink(temporaryPath)
            throw error
        }
        let bytes = try FileSnapshotBytes(path: temporaryPath, fd: nil, header: done, dataOffset: headerLength)
        return PreparedSnapshot(snapshot: try done.snapshot(data: SnapshotData(source: bytes)), temporaryPath: temporaryPath)
    }

    /// Renames a prepared file into place and makes the rename durable — unless the file already
    /// holds a snapshot at least as new, when the prepared one is deleted and false returned.
    @discardableResult
    public func commit(_ prepared: PreparedSnapshot) throws(StorageError) -> Bool {
        guard let temporaryPath = prepared.temporaryPath else { return true }
        return try storedIndex.withLock { (stored: inout Int) throws(StorageError) -> Bool in
            if stored < 0 { stored = (try? FileSnapshotBytes.open(path))??.header.index ?? 0 }
            guard prepared.snapshot.index > stored else {
                unlink(temporaryPath)
                return false
            }
            try AtomicFile.install(temporaryPath, over: path, disk: disk, sync: syncWrites)
            stored = prepared.snapshot.index
            return true
        }
    }

    public func discard(_ prepared: PreparedSnapshot) {
        if let temporaryPath = prepared.temporaryPath { unlink(temporaryPath) }
    }
}

/// The header line of a snapshot file.
struct SnapshotHeader: Sendable {
    var index: LogIndex
    var term: Term
    var bytes: Int
    var crc: UInt32
    var configuration: ClusterConfiguration?

    /// The line without its newline. Padded, the size field takes the room of any size, so the
    /// line's length is known before the size is.
    func text(padded: Bool) -> String {
        var size = String(bytes)
        if padded { size += String(repeating: " ", count: max(0, 20 - size.count)) }
        var text = "{\"index\":\(index),\"term\":\(term),\"bytes\":\(size),\"crc\":\"\(CRC32.hex(crc))\""
        if let configuration {
            text += ",\"configuration\":" + ConfigurationCodec.text(configuration)
        }
        return text + "}\n"
    }

    func snapshot(data: SnapshotData) throws(StorageError) -> Snapshot {
        Snapshot(index: index, term: term, data: data, configuration: configuration)
    }

    static func parse(_ line: [UInt8], file: String) throws(StorageError) -> SnapshotHeader {
        guard case .object(let header)? = try? JSONParser.parse(line),
              let index = header["index"]?.intValue, let term = header["term"]?.intValue,
              let size = header["bytes"]?.intValue, size >= 0, let crcText = header["crc"]?.stringValue,
              let crc = UInt32(crcText, radix: 16) else {
            throw .damaged(file: file, line: 1, reason: "the header needs index, term, bytes and crc")
        }
        var configuration: ClusterConfiguration?
        if let value = header["configuration"] {
            do {
                configuration = try ConfigurationCodec.decode(value)
            } catch {
                throw .damaged(file: file, line: 1, reason: "the configuration is unreadable: \(error)")
            }
        }
        return SnapshotHeader(index: index, term: term, bytes: size, crc: crc, configuration: configuration)
    }
}

/// A snapshot's bytes in its file, read through a descriptor opened once: the bytes stay the
/// same for as long as this object lives, whatever is renamed over the file's name later.
final class FileSnapshotBytes: SnapshotByteSource, @unchecked Sendable {
    // @unchecked Sendable: every property is immutable after init; pread and mmap on a shared
    // descriptor are safe from any thread.
    let path: String
    let fd: Int32
    let header: SnapshotHeader
    let dataOffset: Int

    var count: Int { header.bytes }

    /// Opens `path` (nil when there is no such file) and reads its header.
    static func open(_ path: String) throws(StorageError) -> FileSnapshotBytes? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .io(file: path, operation: "open", errno: errno)
        }
        // The header is one line at the start: read a page, and more if the membership is long.
        var prefix: [UInt8] = []
        var newline: Int?
        while newline == nil {
            let piece = try FileSnapshotBytes.pread(fd: fd, path: path, count: 4096, at: prefix.count)
            if piece.isEmpty { break }
            newline = piece.firstIndex(of: 0x0A).map { prefix.count + $0 }
            prefix += piece
            if prefix.count > 1 << 20 { break }
        }
        guard let newline else {
            Glibc.close(fd)
            throw .damaged(file: path, line: 1, reason: "no header line")
        }
        let header: SnapshotHeader
        do {
            header = try SnapshotHeader.parse(Array(prefix[..<newline]), file: path)
        } catch {
            Glibc.close(fd)
            throw error
        }
        return try FileSnapshotBytes(path: path, fd: fd, header: header, dataOffset: newline + 1)
    }

    /// Wraps `fd` (or opens `path` read-only when nil), checking the file is long enough.
    init(path: String, fd: Int32?, header: SnapshotHeader, dataOffset: Int) throws(StorageError) {
        let descriptor = fd ?? Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .io(file: path, operation: "open", errno: errno) }
        var info = stat()
        let size = fstat(descriptor, &info) == 0 ? Int(info.st_size) : 0
        guard size >= dataOffset + header.bytes else {
            Glibc.close(descriptor)
            throw .damaged(file: path, line: 2, reason: "expected \(header.bytes) bytes of state, found \(max(0, size - dataOffset))")
        }
        self.path = path
        self.fd = descriptor
        self.header = header
        self.dataOffset = dataOffset
    }

    /// The descriptor is closed elsewhere: when a newer snapshot was renamed over this one, this
    /// is the file's last reference, and the close frees its blocks (5-30 ms for 117 MB), which
    /// must not happen on a node's thread.
    deinit { FileIO.closeElsewhere(fd) }

    func read(_ range: Range<Int>) throws -> [UInt8] {
        try Self.pread(fd: fd, path: path, count: range.count, at: dataOffset + range.lowerBound, exact: true)
    }

    /// Maps the file and checks the bytes against the header's checksum before handing them out.
    func withContiguousBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard header.bytes > 0 else {
            guard header.crc == CRC32.checksum([UInt8]()) else { throw StorageError.damaged(file: path, line: 2, reason: "checksum mismatch") }
            return try [UInt8]().withUnsafeBytes(body)
        }
        let length = dataOffset + header.bytes
        guard let mapping = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), mapping != MAP_FAILED else {
            throw StorageError.io(file: path, operation: "mmap", errno: errno)
        }
        defer { munmap(mapping, length) }
        _ = madvise(mapping, length, MADV_SEQUENTIAL)
        let bytes = UnsafeRawBufferPointer(start: mapping + dataOffset, count: header.bytes)
        var running = CRC32.Running()
        running.add(bytes)
        guard running.value == header.crc else { throw StorageError.damaged(file: path, line: 2, reason: "checksum mismatch") }
        return try body(bytes)
    }

    static func pread(fd: Int32, path: String, count: Int, at offset: Int, exact: Bool = false) throws(StorageError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done)) }
            if got < 0 && errno == EINTR { continue }
            if got < 0 { throw .io(file: path, operation: "read", errno: errno) }
            if got == 0 {
                if exact { throw .damaged(file: path, line: 2, reason: "the file ends early") }
                break
            }
            done += got
        }
        if done < count { bytes.removeLast(count - done) }
        return bytes
    }
}

/// Streams a snapshot's bytes into its temporary file after the header's room, keeping a running
/// checksum. With `sync` on it starts the write-back of every few MiB as it goes, so the file
/// never leaves a burst of dirty pages for the next fsync of the log to wait behind.
final class SnapshotFileSink: SnapshotSink {
    let file: StorageFile
    let start: Int
    let sync: Bool
    private(set) var written = 0
    private(set) var checksum = CRC32.Running()
    private var flushedThrough = 0
    static let writeBackEvery = 8 << 20

    init(file: StorageFile, start: Int, sync: Bool) {
        self.file = file
        self.start = start
        self.sync = sync
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !bytes.isEmpty else { return }
        checksum.add(bytes)
        try file.write(Array(bytes), at: start + written)
        written += bytes.count
        if sync && written - flushedThrough >= Self.writeBackEvery {
            WriteBack.start(fd: file.fd, offset: start + flushedThrough, count: written - flushedThrough)
            flushedThrough = written
        }
    }

    func finish() throws {}
}

/// `sync_file_range(SYNC_FILE_RANGE_WRITE)`: starts writing a range back without waiting for it.
/// Swift's Glibc module does not export it, so it is looked up once; where it is missing the
/// final fdatasync does all the work.
enum WriteBack {
    private typealias Function = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32
    private static let function: Function? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "sync_file_range") else { return nil }
        return unsafeBitCast(symbol, to: Function.self)
    }()

    static func start(fd: Int32, offset: Int, count: Int) {
        _ = function?(fd, Int64(offset), Int64(count), 2)  // SYNC_FILE_RANGE_WRITE
    }
}
