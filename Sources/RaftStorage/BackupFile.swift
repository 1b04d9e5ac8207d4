#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Checksum
import JSONText

/// A backup of a cluster's state at one committed log index: what `{"admin":"backup"}` writes
/// and `ServerMain --restore` reads.
public struct Backup: Sendable, Equatable {
    /// The log index the state was taken at (every entry up to it was committed and applied).
    public var index: Int
    /// The term of the entry at `index`.
    public var term: Int
    /// The store's revision and key count at `index` (for people and checks; the state holds them too).
    public var revision: Int64
    public var keys: Int
    /// When the backup was taken (milliseconds since the Unix epoch).
    public var createdMs: Int64
    /// The state machine's snapshot bytes, exactly as a snapshot file holds them.
    public var state: [UInt8]

    public init(index: Int, term: Int, revision: Int64, keys: Int, createdMs: Int64, state: [UInt8]) {
        self.index = index
        self.term = term
        self.revision = revision
        self.keys = keys
        self.createdMs = createdMs
        self.state = state
    }
}

/// The backup file: a magic line, a header line, the state, and an end line whose checksum covers
/// the first two lines (the header carries the state's own checksum), so damage anywhere — a
/// changed byte, a cut, bytes added — is caught before anything is restored:
///
///     RAFTKV-BACKUP 1
///     {"index":1234,"term":3,"revision":1200,"keys":1000,"createdMs":1767225600000,"bytes":48213,"crc":"9a0c4f12"}
///     <48213 bytes: the state, as a snapshot file holds it>
///     end 5be0c1d7
///
/// Written as every store writes a file it replaces: a temporary file, fsynced, renamed into
/// place, the directory fsynced — a crash leaves the old file or the whole new one.
public enum BackupFile {
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        init(_ text: String) { description = text }
    }

    static let magic = Array("RAFTKV-BACKUP 1\n".utf8)
    static let endPrefix = Array("end ".utf8)
    /// "end " + eight hex digits + "\n".
    static let endLength = 13

    /// The magic and header lines.
    static func head(_ backup: Backup) -> [UInt8] {
        let header = "{\"index\":\(backup.index),\"term\":\(backup.term),\"revision\":\(backup.revision),\"keys\":\(backup.keys),"
            + "\"createdMs\":\(backup.createdMs),\"bytes\":\(backup.state.count),\"crc\":\"\(CRC32.hex(CRC32.checksum(backup.state)))\"}\n"
        return magic + Array(header.utf8)
    }

    static func tail(head: [UInt8]) -> [UInt8] {
        Array("\nend \(CRC32.hex(CRC32.checksum(head)))\n".utf8)
    }

    /// The whole file in memory (tests; `write` streams the same bytes without the copy).
    public static func encode(_ backup: Backup) -> [UInt8] {
        let head = head(backup)
        return head + backup.state + tail(head: head)
    }

    /// Writes `backup` to `path` atomically (temporary file, fsync, rename, directory fsync);
    /// returns the file's size.
    @discardableResult
    public static func write(_ backup: Backup, to path: String, sync: Bool = true) throws(StorageError) -> Int {
        let head = head(backup)
        let tail = tail(head: head)
        let temporary = path + ".tmp"
        let file = try FileIO.create(temporary, disk: nil)
        do {
            try file.write(head, at: 0)
            try file.write(backup.state, at: head.count)
            try file.write(tail, at: head.count + backup.state.count)
            if sync { try file.sync() }
        } catch {
            file.close()
            unlink(temporary)
            throw error
        }
        file.close()
        do {
            try AtomicFile.install(temporary, over: path, disk: nil, sync: sync)
        } catch {
            unlink(temporary)
            throw error
        }
        return head.count + backup.state.count + tail.count
    }

    /// Reads and checks the backup at `path`.
    public static func read(_ path: String) throws(Problem) -> Backup {
        let read: [UInt8]?
        do {
            read = try FileReader.read(path)
        } catch {
            throw Problem("cannot read \(path): \(error)")
        }
        guard let bytes = read else { throw Problem("\(path): no such file") }
        do {
            return try decode(bytes)
        } catch {
            throw Problem("\(path): \(error.description)")
        }
    }

    /// Checks every part of a backup file's bytes and returns what it holds.
    public static func decode(_ bytes: [UInt8]) throws(Problem) -> Backup {
        guard !bytes.isEmpty else { throw Problem("the file is empty, not a backup") }
        guard bytes.starts(with: magic) else {
            if bytes.starts(with: Array("RAFTKV-BACKUP ".utf8)) {
                let line = bytes.prefix(40).prefix { $0 != 0x0A }
                throw Problem("unsupported backup format \"\(String(decoding: line, as: UTF8.self))\" (this build reads RAFTKV-BACKUP 1)")
            }
            throw Problem("not a RaftKV backup: it does not start with the line RAFTKV-BACKUP 1 (damaged, or another kind of file)")
        }
        guard let newline = bytes[magic.count...].firstIndex(of: 0x0A) else {
            throw Problem("truncated: the header line has no end")
        }
        let headEnd = newline + 1
        // The end line: "end " and the checksum of the magic and header lines.
        guard bytes.count >= headEnd + endLength + 1 else {
            throw Problem("truncated: \(bytes.count) bytes, too short to hold its state and end line")
        }
        let endStart = bytes.count - endLength
        let endLine = bytes[endStart...]
        guard endLine.starts(with: endPrefix), endLine.last == 0x0A, bytes[endStart - 1] == 0x0A,
              let expectedHead = hexValue(bytes[(endStart + endPrefix.count)..<(bytes.count - 1)]) else {
            throw Problem("truncated or damaged at its end: the last line is not \"end\" and a checksum")
        }
        guard CRC32.checksum(bytes[..<headEnd]) == expectedHead else {
            throw Problem("the header is damaged: its checksum does not match the end line's")
        }
        guard case .object(let header)? = try? JSONParser.parse(Array(bytes[magic.count..<newline])),
              let index = header["index"]?.intValue, index >= 0, let term = header["term"]?.intValue, term >= 0,
              let revisionText = header["revision"], case .number(let revisionDigits) = revisionText, let revision = Int64(revisionDigits),
              let keys = header["keys"]?.intValue, keys >= 0,
              let createdText = header["createdMs"], case .number(let createdDigits) = createdText, let created = Int64(createdDigits),
              let size = header["bytes"]?.intValue, size >= 0,
              let crcText = header["crc"]?.stringValue, let crc = hexValue(ArraySlice(crcText.utf8)) else {
            throw Problem("the header needs index, term, revision, keys, createdMs, bytes and crc")
        }
        let stateStart = headEnd
        let stateEnd = endStart - 1
        guard stateEnd - stateStart == size else {
            throw Problem("the state is \(stateEnd - stateStart) bytes where the header says \(size): the file was cut or bytes were added")
        }
        let state = Array(bytes[stateStart..<stateEnd])
        guard CRC32.checksum(state) == crc else {
            throw Problem("the state is damaged: its checksum does not match the header's")
        }
        return Backup(index: index, term: term, revision: revision, keys: keys, createdMs: created, state: state)
    }

    /// Exactly eight lower-case hex digits.
    static func hexValue(_ digits: ArraySlice<UInt8>) -> UInt32? {
        guard digits.count == 8 else { return nil }
        var value: UInt32 = 0
        for digit in digits {
            let nibble: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt32(nibble)
        }
        return value
    }
}
