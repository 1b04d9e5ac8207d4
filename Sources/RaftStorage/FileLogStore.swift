#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Checksum
import JSONText
import RaftCore

/// `log0X.txt`: one JSON entry per line, each with a CRC-32 of the rest of its line:
///
///     {"index":7,"term":2,"command":{"op":"put","key":"a","value":"b"},"crc":"1c291ca3"}
///
/// `command` is null for a leader's no-op; a membership change is the command
/// `{"op":"config","members":[...]}` (see `ConfigurationCodec`). The checksum covers the line's text without its
/// `,"crc":"…"` member. Appends are batched and synced once per `write` (when `syncWrites`);
/// a conflicting suffix is cut off in place with `ftruncate`. On load, a bad or unterminated
/// final line is a torn write and is dropped (and cut from the file); a bad line anywhere else
/// is damage, reported with the file and line number.
///
/// Not thread-safe: owned by one node's queue.
public final class FileLogStore: LogStore, @unchecked Sendable {
    public let path: String
    public let syncWrites: Bool
    let disk: DiskFaults?
    private var file: StorageFile?
    /// Byte offset where each stored entry's line starts; entry `firstIndex + k` at `lineStarts[k]`.
    private var lineStarts: [Int] = []
    private var firstIndex: LogIndex = 1
    private var endOffset = 0
    /// How many fsyncs this store has issued (for metrics).
    public private(set) var syncCount = 0
    /// Bumped whenever bytes already in the file change (a cut or a rewrite): a compaction
    /// prepared before that no longer matches.
    private var generation = 0

    public init(path: String, syncWrites: Bool, disk: DiskFaults? = nil) {
        self.path = path
        self.syncWrites = syncWrites
        self.disk = disk
    }

    deinit { close() }

    public var lastIndex: LogIndex { firstIndex + lineStarts.count - 1 }

    public func load() throws(StorageError) -> LoadedLog {
        unlink(path + ".compact")  // a copy a crash interrupted; the log itself is whole
        let file = try FileIO.openFile(path, disk: disk)
        self.file = file
        if file.created && syncWrites {
            // A new file's directory entry must be durable before anything in it can count.
            try FileIO.syncDirectory(containing: path, disk: disk)
        }
        let bytes = try file.readAll()
        var entries: [Entry] = []
        var lineStart = 0
        var lineNumber = 0
        var tornAt: Int?
        while lineStart < bytes.count {
            lineNumber += 1
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != 0x0A { lineEnd += 1 }
            let terminated = lineEnd < bytes.count
            let isLast = !terminated || lineEnd + 1 >= bytes.count
            let decoded = terminated ? Self.decode(bytes[lineStart..<lineEnd]) : .failure(.init("the line has no end"))
            switch decoded {
            case .success(let entry):
                if let previous = entries.last {
                    if entry.index != previous.index + 1 {
                        throw .damaged(file: path, line: lineNumber, reason: "entry index \(entry.index) follows \(previous.index)")
                    }
                    if entry.term < previous.term {
                        throw .damaged(file: path, line: lineNumber, reason: "term \(entry.term) after term \(previous.term)")
                    }
                } else {
                    if entry.index < 1 { throw .damaged(file: path, line: lineNumber, reason: "index \(entry.index) is not positive") }
                    firstIndex = entry.index
                }
                entries.append(entry)
                lineStarts.append(lineStart)
            case .failure(let problem):
                if isLast {
                    tornAt = lineStart
                } else {
                    throw .damaged(file: path, line: lineNumber, reason: problem.reason)
                }
            }
            if tornAt != nil { break }
            lineStart = lineEnd + 1
        }
        endOffset = tornAt ?? bytes.count
        if tornAt != nil {
            try file.truncate(to: endOffset)
            if syncWrites { try file.sync() }
        }
        return LoadedLog(entries: entries, droppedTornTail: tornAt != nil)
    }

    public func write(_ entries: [Entry]) throws(StorageError) {
        guard let first = entries.first else { return }
        guard let file else { preconditionFailure("write before load") }
        if lineStarts.isEmpty {
            firstIndex = first.index
        } else if first.index <= lastIndex {
            let keep = max(0, first.index - firstIndex)
            let cut = keep < lineStarts.count ? lineStarts[keep] : endOffset
            try file.truncate(to: cut)
            generation += 1
            lineStarts.removeSubrange(keep...)
            endOffset = cut
            if lineStarts.isEmpty { firstIndex = first.index }
        } else {
            precondition(first.index == lastIndex + 1, "log write at \(first.index) leaves a gap after \(lastIndex)")
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(entries.reduce(0) { $0 + $1.data.utf8.count + 80 })
        var starts: [Int] = []
        starts.reserveCapacity(entries.count)
        for entry in entries {
            starts.append(endOffset + buffer.count)
            Self.appendLine(for: entry, to: &buffer)
        }
        do {
            try file.write(buffer, at: endOffset)
        } catch {
            // Nothing of this batch counts: cut whatever part of it reached the file.
            try? file.truncate(to: endOffset)
            throw error
        }
        lineStarts.append(contentsOf: starts)
        endOffset += buffer.count
        if syncWrites {
            try file.sync()
            syncCount += 1
        }
    }

    public func compact(through index: LogIndex) throws(StorageError) {
        guard let file else { preconditionFailure("compact before load") }
        guard index >= firstIndex, !lineStarts.isEmpty else { return }
        let keep = index - firstIndex + 1
        let cut = keep < lineStarts.count ? lineStarts[keep] : endOffset
        let tail = try file.read(count: endOffset - cut, at: cut)
        try rewrite(with: tail)
        lineStarts = keep < lineStarts.count ? lineStarts[keep...].map { $0 - cut } : []
        firstIndex = index + 1
        endOffset = tail.count
    }

    public func replace(with entries: [Entry]) throws(StorageError) {
        precondition(file != nil, "replace before load")
        var bytes: [UInt8] = []
        var starts: [Int] = []
        for entry in entries {
            starts.append(bytes.count)
            Self.appendLine(for: entry, to: &bytes)
        }
        try rewrite(with: bytes)
        lineStarts = starts
        firstIndex = entries.first?.index ?? (lastIndex + 1)
        endOffset = bytes.count
    }

    public func prepareCompaction(through index: LogIndex) -> PreparedCompaction? {
        guard let file, index >= firstIndex, !lineStarts.isEmpty else { return nil }
        let keep = index - firstIndex + 1
        let cut = keep < lineStarts.count ? lineStarts[keep] : endOffset
        let reader = dup(file.fd)
        guard reader >= 0 else { return nil }
        return FileCompaction(through: index, cut: cut, end: endOffset, generation: generation, reader: reader,
                              temporary: path + ".compact", disk: disk, syncWrites: syncWrites)
    }

    public func commitCompaction(_ prepared: PreparedCompaction) throws(StorageError) -> Bool {
        try commitCompaction(prepared, catchUpLimit: .max) == .committed
    }

    public func commitCompaction(_ prepared: PreparedCompaction, catchUpLimit: Int) throws(StorageError) -> CompactionCommit {
        guard let job = prepared as? FileCompaction, let file, let copy = job.copy,
              job.generation == generation, job.through >= firstIndex else {
            prepared.discard()
            return .voided
        }
        if endOffset - job.end > catchUpLimit {
            job.end = endOffset
            return .catchUpFirst
        }
        // What was appended while the copy was made goes to the copy too.
        if endOffset > job.end {
            let appended = try file.read(count: endOffset - job.end, at: job.end)
            try copy.write(appended, at: job.end - job.cut)
            if syncWrites { try copy.sync() }
        }
        try AtomicFile.install(job.temporary, over: path, disk: disk, sync: syncWrites)
        job.finished()
        // The old file's last descriptor: closing it frees its blocks, which took 2-12 ms for a
        // log of tens of megabytes; that happens elsewhere.
        let retired = file.fd
        file.detach()
        FileIO.closeElsewhere(retired)
        self.file = StorageFile(fd: copy.fd, path: path, disk: disk, created: false)
        copy.detach()
        job.copy = nil
        let keep = job.through - firstIndex + 1
        lineStarts = keep < lineStarts.count ? lineStarts[keep...].map { $0 - job.cut } : []
        firstIndex = job.through + 1
        endOffset -= job.cut
        generation += 1
        return .committed
    }

    /// Writes `bytes` to a temporary file, syncs it, renames it over the log and reopens it.
    private func rewrite(with bytes: [UInt8]) throws(StorageError) {
        generation += 1
        let temporary = path + ".tmp"
        let newFile = try AtomicFile.stage(bytes, at: temporary, disk: disk, sync: syncWrites)
        do {
            try AtomicFile.install(temporary, over: path, disk: disk, sync: syncWrites)
        } catch {
            newFile.close()
            throw error
        }
        file?.close()
        file = StorageFile(fd: newFile.fd, path: path, disk: disk, created: false)
        newFile.detach()
    }

    /// Bytes the log file holds.
    public var byteCount: Int { endOffset }

    public func close() {
        file?.close()
        file = nil
    }

    // MARK: - Line format

    /// The line for `entry`, newline included.
    public static func encode(_ entry: Entry) -> String {
        var bytes: [UInt8] = []
        appendLine(for: entry, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the line for `entry` to `buffer`, building bytes directly (this runs for every
    /// entry on every node).
    static func appendLine(for entry: Entry, to buffer: inout [UInt8]) {
        let start = buffer.count
        buffer.append(contentsOf: "{\"index\":".utf8)
        buffer.append(contentsOf: String(entry.index).utf8)
        buffer.append(contentsOf: ",\"term\":".utf8)
        buffer.append(contentsOf: String(entry.term).utf8)
        buffer.append(contentsOf: ",\"command\":".utf8)
        if let configuration = entry.configuration {
            buffer.append(contentsOf: ConfigurationCodec.text(configuration).utf8)
        } else if entry.data.isEmpty {
            buffer.append(contentsOf: "null".utf8)
        } else {
            buffer.append(contentsOf: entry.data.utf8)
        }
        buffer.append(UInt8(ascii: "}"))
        let crc = buffer.withUnsafeBufferPointer { CRC32.checksum(buffer: UnsafeBufferPointer(rebasing: $0[start...])) }
        buffer.removeLast()
        buffer.append(contentsOf: ",\"crc\":\"".utf8)
        buffer.append(contentsOf: CRC32.hex(crc).utf8)
        buffer.append(contentsOf: "\"}\n".utf8)
    }

    /// The fast path for a line exactly as `appendLine` writes it (the checksum has vouched for
    /// the bytes): index and term read in place, the command's text taken as it stands rather
    /// than parsed and written again. Restarting a node replays tens of thousands of lines, and
    /// this is most of that time. Configuration entries, and anything shaped otherwise, take
    /// the general path.
    static func decodeAsWritten(_ body: [UInt8]) -> Entry? {
        var position = 0
        func expect(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard position + count <= body.count else { return false }
            let matches = text.withUTF8Buffer { expected in
                body.withUnsafeBufferPointer { UnsafeBufferPointer(rebasing: $0[position..<(position + count)]).elementsEqual(expected) }
            }
            if matches { position += count }
            return matches
        }
        func number() -> Int? {
            var value = 0
            let start = position
            while position < body.count, body[position] >= 0x30, body[position] <= 0x39, position - start < 18 {
                value = value * 10 + Int(body[position] - 0x30)
                position += 1
            }
            return position > start ? value : nil
        }
        guard expect("{\"index\":"), let index = number(), expect(",\"term\":"), let term = number(),
              expect(",\"command\":"), body.count - position >= 2 else { return nil }
        let command = body[position..<(body.count - 1)]  // without the object's closing brace
        if command.elementsEqual("null".utf8) { return Entry(index: index, term: term, data: "") }
        guard command.first == UInt8(ascii: "{"), command.last == UInt8(ascii: "}"),
              !command.starts(with: "{\"op\":\"config\"".utf8) else { return nil }
        return Entry(index: index, term: term, data: String(decoding: command, as: UTF8.self))
    }

    struct LineProblem: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    static func decode(_ line: ArraySlice<UInt8>) -> Result<Entry, LineProblem> {
        let marker = Array(",\"crc\":\"".utf8)
        let bytes = Array(line)
        guard bytes.count >= marker.count + 10, bytes.suffix(2).elementsEqual("\"}".utf8) else {
            return .failure(LineProblem("not a log entry (no checksum at the end)"))
        }
        let crcStart = bytes.count - 2 - 8
        guard Array(bytes[(crcStart - marker.count)..<crcStart]) == marker else {
            return .failure(LineProblem("not a log entry (no checksum at the end)"))
        }
        let body = Array(bytes[0..<(crcStart - marker.count)]) + [UInt8(ascii: "}")]
        let stored = String(decoding: bytes[crcStart..<(crcStart + 8)], as: UTF8.self)
        guard CRC32.hex(CRC32.checksum(body)) == stored else {
            return .failure(LineProblem("checksum mismatch"))
        }
        if let entry = decodeAsWritten(body) { return .success(entry) }
        guard case .object(let object) = (try? JSONParser.parse(body)) ?? .null,
              let index = object["index"]?.intValue, let term = object["term"]?.intValue,
              let command = object["command"] else {
            return .failure(LineProblem("not a log entry (needs index, term and command)"))
        }
        switch command {
        case .null:
            return .success(Entry(index: index, term: term, data: ""))
        case .object(let object):
            if object["op"] == .string("config") {
                do {
                    return .success(Entry(index: index, term: term, data: "", configuration: try ConfigurationCodec.decode(command)))
                } catch {
                    return .failure(LineProblem("a configuration entry is unreadable: \(error)"))
                }
            }
            var writer = JSONWriter()
            writer.value(command)
            return .success(Entry(index: index, term: term, data: writer.text))
        default:
            return .failure(LineProblem("command must be an object or null"))
        }
    }
}

/// A compaction of `log0X.txt` prepared off the node's thread: the lines after `through` (from
/// byte `cut` to `end`, as the file stood) are copied into a temporary file and synced. While
/// much was appended meanwhile, the store moves `end` on and the copying runs again (only the
/// new bytes); then the node adds the little appended since and renames the copy over the log.
///
/// @unchecked Sendable: `run` runs on one thread, then `commitCompaction` or `discard` on the
/// store's; never both at once.
final class FileCompaction: PreparedCompaction, @unchecked Sendable {
    let through: LogIndex
    let cut: Int
    /// Where the copy should reach: the log's end when the job was prepared or last caught up.
    var end: Int
    /// How far the copy reaches (`run` brings it to `end`).
    private var copied: Int
    let generation: Int
    let temporary: String
    let disk: DiskFaults?
    let syncWrites: Bool
    private var reader: Int32
    var copy: StorageFile?

    init(through: LogIndex, cut: Int, end: Int, generation: Int, reader: Int32, temporary: String, disk: DiskFaults?,
         syncWrites: Bool) {
        self.through = through
        self.cut = cut
        self.end = end
        self.copied = cut
        self.generation = generation
        self.reader = reader
        self.temporary = temporary
        self.disk = disk
        self.syncWrites = syncWrites
    }

    deinit { discard() }

    func run() throws(StorageError) {
        let copy: StorageFile
        if let existing = self.copy {
            copy = existing
        } else {
            copy = try FileIO.create(temporary, disk: disk)
            self.copy = copy
        }
        let source = StorageFile(fd: reader, path: temporary, disk: nil, created: false)
        defer { source.detach() }
        while copied < end {
            let count = min(end - copied, 1 << 20)
            try copy.write(try source.read(count: count, at: copied), at: copied - cut)
            copied += count
        }
        if syncWrites { try copy.sync() }
    }

    /// The copy is the log now: the reader of the old file is no longer needed.
    func finished() {
        closeReader()
    }

    func discard() {
        closeReader()
        if let copy {
            copy.close()
            self.copy = nil
            unlink(temporary)
        }
    }

    private func closeReader() {
        if reader >= 0 {
            Glibc.close(reader)
            reader = -1
        }
    }
}

