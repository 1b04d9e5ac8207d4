#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import JSONText
import RaftCore

/// `log0X.txt`: one JSON entry per line, each with a CRC-32 of the rest of its line:
///
///     {"index":7,"term":2,"command":{"op":"put","key":"a","value":"b"},"crc":"1c291ca3"}
///
/// `command` is null for a leader's no-op. The checksum covers the line's text without its
/// `,"crc":"…"` member. Appends are batched and synced once per `write` (when `syncWrites`);
/// a conflicting suffix is cut off in place with `ftruncate`. On load, a bad or unterminated
/// final line is a torn write and is dropped (and cut from the file); a bad line anywhere else
/// is damage, reported with the file and line number.
///
/// Not thread-safe: owned by one node's queue.
public final class FileLogStore: LogStore, @unchecked Sendable {
    public let path: String
    public let syncWrites: Bool
    private var fd: Int32 = -1
    /// Byte offset where each stored entry's line starts; entry `firstIndex + k` at `lineStarts[k]`.
    private var lineStarts: [Int] = []
    private var firstIndex: LogIndex = 1
    private var endOffset = 0
    /// How many fsyncs this store has issued (for metrics).
    public private(set) var syncCount = 0

    public init(path: String, syncWrites: Bool) {
        self.path = path
        self.syncWrites = syncWrites
    }

    deinit { close() }

    public var lastIndex: LogIndex { firstIndex + lineStarts.count - 1 }

    public func load() throws(StorageError) -> LoadedLog {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(file: path, operation: "open", errno: errno) }
        let bytes = try FileIO.readAll(fd: fd, path: path)
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
            if ftruncate(fd, off_t(endOffset)) != 0 { throw .io(file: path, operation: "ftruncate", errno: errno) }
            if syncWrites { try FileIO.syncData(fd: fd, path: path) }
        }
        return LoadedLog(entries: entries, droppedTornTail: tornAt != nil)
    }

    public func write(_ entries: [Entry]) throws(StorageError) {
        guard let first = entries.first else { return }
        precondition(fd >= 0, "write before load")
        if lineStarts.isEmpty {
            firstIndex = first.index
        } else if first.index <= lastIndex {
            let keep = max(0, first.index - firstIndex)
            let cut = keep < lineStarts.count ? lineStarts[keep] : endOffset
            if ftruncate(fd, off_t(cut)) != 0 { throw .io(file: path, operation: "ftruncate", errno: errno) }
            lineStarts.removeSubrange(keep...)
            endOffset = cut
            if lineStarts.isEmpty { firstIndex = first.index }
        } else {
            precondition(first.index == lastIndex + 1, "log write at \(first.index) leaves a gap after \(lastIndex)")
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(entries.reduce(0) { $0 + $1.data.utf8.count + 80 })
        for entry in entries {
            lineStarts.append(endOffset + buffer.count)
            Self.appendLine(for: entry, to: &buffer)
        }
        try FileIO.writeAll(fd: fd, buffer, at: endOffset, path: path)
        endOffset += buffer.count
        if syncWrites {
            try FileIO.syncData(fd: fd, path: path)
            syncCount += 1
        }
    }

    public func compact(through index: LogIndex) throws(StorageError) {
        precondition(fd >= 0, "compact before load")
        guard index >= firstIndex, !lineStarts.isEmpty else { return }
        let keep = index - firstIndex + 1
        let cut = keep < lineStarts.count ? lineStarts[keep] : endOffset
        var tail = [UInt8](repeating: 0, count: endOffset - cut)
        if !tail.isEmpty {
            let count = tail.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(cut)) }
            guard count == tail.count else { throw .io(file: path, operation: "read", errno: count < 0 ? errno : EIO) }
        }
        try rewrite(with: tail)
        lineStarts = keep < lineStarts.count ? lineStarts[keep...].map { $0 - cut } : []
        firstIndex = index + 1
        endOffset = tail.count
    }

    public func replace(with entries: [Entry]) throws(StorageError) {
        precondition(fd >= 0, "replace before load")
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
        let newFD = open(temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard newFD >= 0 else { throw .io(file: temporary, operation: "open", errno: errno) }
        do {
            try FileIO.writeAll(fd: newFD, bytes, at: 0, path: temporary)
            if syncWrites { try FileIO.syncData(fd: newFD, path: temporary) }
        } catch {
            Glibc.close(newFD)
            throw error
        }
        if rename(temporary, path) != 0 {
            Glibc.close(newFD)
            throw .io(file: path, operation: "rename", errno: errno)
        }
        if syncWrites { try DataDirectory.syncDirectory(containing: path) }
        Glibc.close(fd)
        fd = newFD
    }

    /// Bytes the log file holds.
    public var byteCount: Int { endOffset }

    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
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
        if entry.data.isEmpty {
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
        case .object:
            var writer = JSONWriter()
            writer.value(command)
            return .success(Entry(index: index, term: term, data: writer.text))
        default:
            return .failure(LineProblem("command must be an object or null"))
        }
    }
}
