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

    public init(path: String, syncWrites: Bool, disk: DiskFaults? = nil) {
        self.path = path
        self.syncWrites = syncWrites
        self.disk = disk
    }

    deinit { close() }

    public var lastIndex: LogIndex { firstIndex + lineStarts.count - 1 }

    public func load() throws(StorageError) -> LoadedLog {
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

    /// Writes `bytes` to a temporary file, syncs it, renames it over the log and reopens it.
    private func rewrite(with bytes: [UInt8]) throws(StorageError) {
        let temporary = path + ".tmp"
        let newFile = try FileIO.create(temporary, disk: disk)
        do {
            try newFile.write(bytes, at: 0)
            if syncWrites { try newFile.sync() }
            try FileIO.rename(temporary, to: path, disk: disk)
        } catch {
            newFile.close()
            throw error
        }
        if syncWrites { try FileIO.syncDirectory(containing: path, disk: disk) }
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
