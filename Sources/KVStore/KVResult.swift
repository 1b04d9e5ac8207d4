import KVWire

/// What applying a command tells the client that proposed it. Kept in the session table (and so
/// in snapshots) for exactly-once answers, and passed between members for forwarded writes.
public enum KVResult: Sendable, Equatable {
    /// The key after the command: put, successful cas, delete (nil record: absent), read.
    /// `revision` is the store's revision after it.
    case key(String, KeyRecord?, revision: Int64)
    /// The cas did not apply; the key as it is.
    case casFailed(String, KeyRecord?, revision: Int64)
    /// A delete by prefix removed `count` keys.
    case deleted(count: Int, revision: Int64)
    /// A transaction: which branch ran, and each step's result.
    case txn(succeeded: Bool, steps: [Step], revision: Int64)
    /// The client's `seq` is below the last one applied for it: nothing was done.
    case stale(lastSeq: Int64)
    /// A lease was granted.
    case lease(id: Int64, ttlMs: Int64)
    /// The lease does not exist (never granted, revoked or expired): nothing was done.
    case leaseNotFound(Int64)

    /// One step of a transaction's branch.
    public enum Step: Sendable, Equatable {
        case key(String, KeyRecord?)
        case deleted(count: Int)
        case range(entries: [KeyEntry], more: Bool, keysOnly: Bool)
    }

    /// The store's revision after the command (0 for `stale`).
    public var revision: Int64 {
        switch self {
        case .key(_, _, let revision), .casFailed(_, _, let revision), .deleted(_, let revision), .txn(_, _, let revision):
            return revision
        case .stale, .lease, .leaseNotFound: return 0
        }
    }

    public var isCasFailure: Bool {
        if case .casFailed = self { return true }
        return false
    }
}

/// Results as bytes, for the session table in snapshots and for forwarded writes.
extension KVResult {
    public struct DecodingError: Error, CustomStringConvertible {
        public var description: String
    }

    public var encoded: [UInt8] {
        var writer = ByteWriter()
        write(&writer)
        return writer.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> KVResult {
        do {
            return try bytes.withUnsafeBytes { buffer throws(ByteReader.Failure) in
                var reader = ByteReader(buffer)
                let result = try read(&reader)
                guard reader.atEnd else { throw ByteReader.Failure(description: "bytes after the result") }
                return result
            }
        } catch {
            throw DecodingError(description: "an unreadable result: \(error)")
        }
    }

    func write(_ writer: inout ByteWriter) {
        switch self {
        case .key(let key, let record, let revision):
            writer.byte(1); writer.string(key); Self.write(record, &writer); writer.int(revision)
        case .casFailed(let key, let record, let revision):
            writer.byte(2); writer.string(key); Self.write(record, &writer); writer.int(revision)
        case .deleted(let count, let revision):
            writer.byte(3); writer.int(count); writer.int(revision)
        case .txn(let succeeded, let steps, let revision):
            writer.byte(4); writer.byte(succeeded ? 1 : 0); writer.int(revision); writer.int(steps.count)
            for step in steps { Self.write(step, &writer) }
        case .stale(let last):
            writer.byte(5); writer.int(last)
        case .lease(let id, let ttl):
            writer.byte(6); writer.int(id); writer.int(ttl)
        case .leaseNotFound(let id):
            writer.byte(7); writer.int(id)
        }
    }

    static func read(_ reader: inout ByteReader) throws(ByteReader.Failure) -> KVResult {
        switch try reader.byte() {
        case 1: return .key(try reader.string(), try readRecord(&reader), revision: try reader.int())
        case 2: return .casFailed(try reader.string(), try readRecord(&reader), revision: try reader.int())
        case 3: return .deleted(count: Int(try reader.int()), revision: try reader.int())
        case 4:
            let succeeded = try reader.byte() == 1
            let revision = try reader.int()
            let count = try reader.count()
            var steps: [Step] = []
            for _ in 0..<count { steps.append(try readStep(&reader)) }
            return .txn(succeeded: succeeded, steps: steps, revision: revision)
        case 5: return .stale(lastSeq: try reader.int())
        case 6: return .lease(id: try reader.int(), ttlMs: try reader.int())
        case 7: return .leaseNotFound(try reader.int())
        case let other: throw ByteReader.Failure(description: "unknown result kind \(other)")
        }
    }

    private static func write(_ step: Step, _ writer: inout ByteWriter) {
        switch step {
        case .key(let key, let record):
            writer.byte(1); writer.string(key); write(record, &writer)
        case .deleted(let count):
            writer.byte(2); writer.int(count)
        case .range(let entries, let more, let keysOnly):
            writer.byte(3); writer.byte(more ? 1 : 0); writer.byte(keysOnly ? 1 : 0); writer.int(entries.count)
            for entry in entries {
                entry.key.withBytes { writer.raw($0) }
                write(entry.record, &writer)
            }
        }
    }

    private static func readStep(_ reader: inout ByteReader) throws(ByteReader.Failure) -> Step {
        switch try reader.byte() {
        case 1: return .key(try reader.string(), try readRecord(&reader))
        case 2: return .deleted(count: Int(try reader.int()))
        case 3:
            let more = try reader.byte() == 1
            let keysOnly = try reader.byte() == 1
            let count = try reader.count()
            var entries: [KeyEntry] = []
            for _ in 0..<count {
                let key = ByteKey(bytes: try reader.slice())
                guard let record = try readRecord(&reader) else { throw ByteReader.Failure(description: "a range entry without a record") }
                entries.append(KeyEntry(key: key, record: record))
            }
            return .range(entries: entries, more: more, keysOnly: keysOnly)
        case let other: throw ByteReader.Failure(description: "unknown step kind \(other)")
        }
    }

    static func write(_ record: KeyRecord?, _ writer: inout ByteWriter) {
        guard let record else { return writer.byte(0) }
        writer.byte(1)
        writer.string(record.value)
        writer.int(record.createRevision)
        writer.int(record.modRevision)
        writer.int(record.version)
        writer.int(record.lease)
    }

    static func readRecord(_ reader: inout ByteReader) throws(ByteReader.Failure) -> KeyRecord? {
        switch try reader.byte() {
        case 0: return nil
        case 1:
            return KeyRecord(value: try reader.string(), createRevision: try reader.int(), modRevision: try reader.int(),
                             version: try reader.int(), lease: try reader.int())
        case let other: throw ByteReader.Failure(description: "unknown record flag \(other)")
        }
    }
}
