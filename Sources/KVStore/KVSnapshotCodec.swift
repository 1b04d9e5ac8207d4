import JSONText
import RaftCore

/// Snapshots of the store. The current format is binary, written in one pass over a frozen state
/// and read back in one pass into a B-tree built bottom-up:
///
///     "RKVS" | format 2 | revision | log time | sessions (client, seq, last seen, result)… |
///     leases (id, ttl)… | keys (bytes, value, createRevision, modRevision, version, lease)… in key order
///
/// (a lease's keys are the keys that name it).
///
/// (every number a LEB128 varint, every string length-prefixed). The first format — one JSON
/// object of string values, `{"a":"1"}` — still loads: its keys get revision 1, the store
/// revision 1, so every node that loads the same file agrees.
extension KVStateMachine {
    public struct RestoreError: Error, CustomStringConvertible {
        public var description: String
    }

    static let magic: [UInt8] = Array("RKVS".utf8)
    static let format: UInt8 = 2

    /// Serializes a frozen state (take it on the node's queue with `freeze`; this can run
    /// anywhere), handing `sink` a piece of about 1 MiB at a time.
    public static func serialize(_ state: KVState, to sink: any SnapshotSink) throws {
        let pieceBytes = 1 << 20
        var writer = ByteWriter()
        writer.bytes.reserveCapacity(pieceBytes + 4096)
        func flushIfFull() throws {
            guard writer.bytes.count >= pieceBytes else { return }
            try writer.bytes.withUnsafeBytes { try sink.write($0) }
            writer.bytes.removeAll(keepingCapacity: true)
        }
        writer.bytes.append(contentsOf: magic)
        writer.byte(format)
        writer.int(state.revision)
        writer.int(max(0, state.logTime))
        writer.int(state.sessions.count)
        for client in state.sessions.keys.sorted() {
            let session = state.sessions[client]!
            writer.string(client)
            writer.int(session.seq)
            writer.int(max(0, session.lastSeen))
            let result = session.result.encoded
            result.withUnsafeBytes { writer.raw($0) }
            try flushIfFull()
        }
        writer.int(state.leases.count)
        for id in state.leases.keys.sorted() {
            writer.int(id)
            writer.int(state.leases[id]!.ttlMs)
        }
        writer.int(state.keys.count)
        for entry in state.keys {
            entry.key.withBytes { writer.raw($0) }
            writer.string(entry.record.value)
            writer.int(entry.record.createRevision)
            writer.int(entry.record.modRevision)
            writer.int(entry.record.version)
            writer.int(entry.record.lease)
            try flushIfFull()
        }
        if !writer.bytes.isEmpty { try writer.bytes.withUnsafeBytes { try sink.write($0) } }
    }

    /// Rebuilds the store from a snapshot taken after applying `appliedIndex`.
    public init(restoring bytes: UnsafeRawBufferPointer, appliedIndex: Int) throws {
        self.init()
        if bytes.first == UInt8(ascii: "{") {
            state = try Self.restoreFirstFormat(Array(bytes))
        } else {
            do {
                state = try Self.restoreBinary(bytes)
            } catch let failure as ByteReader.Failure {
                throw RestoreError(description: "the snapshot is damaged: \(failure.description)")
            }
        }
        self.appliedIndex = appliedIndex
    }

    static func restoreBinary(_ bytes: UnsafeRawBufferPointer) throws -> KVState {
        guard bytes.count >= 5, Array(bytes[0..<4]) == magic else {
            throw RestoreError(description: "not a snapshot of this store (no RKVS header)")
        }
        guard bytes[4] == format else { throw RestoreError(description: "snapshot format \(bytes[4]) is not supported (this build reads \(format))") }
        var reader = ByteReader(bytes, from: 5)
        var state = KVState()
        state.revision = try reader.int()
        state.logTime = try reader.int()
        let sessions = try reader.count()
        for _ in 0..<sessions {
            let client = try reader.string()
            let seq = try reader.int()
            let lastSeen = try reader.int()
            let result = try KVResult.decode(Array(try reader.slice()))
            state.sessions[client] = KVState.Session(seq: seq, result: result, lastSeen: lastSeen)
        }
        let leaseCount = try reader.count()
        for _ in 0..<leaseCount {
            let id = try reader.int()
            state.leases[id] = KVState.Lease(ttlMs: try reader.int())
        }
        let count = try reader.count()
        var builder = OrderedKeyMap.Builder()
        for _ in 0..<count {
            let key = ByteKey(bytes: try reader.slice())
            let record = KeyRecord(value: try reader.string(), createRevision: try reader.int(), modRevision: try reader.int(),
                                   version: try reader.int(), lease: try reader.int())
            if record.lease != 0 {
                guard state.leases[record.lease] != nil else {
                    throw RestoreError(description: "a key names lease \(record.lease), which the snapshot does not hold")
                }
                state.leases[record.lease]!.keys.insert(key)
            }
            do {
                try builder.append(key, record)
            } catch {
                throw RestoreError(description: "the snapshot's keys are out of order: \(error)")
            }
        }
        guard reader.atEnd else { throw RestoreError(description: "bytes after the last key") }
        state.keys = builder.finish()
        return state
    }

    /// `{"key":"value",…}`, the format before revisions.
    static func restoreFirstFormat(_ data: [UInt8]) throws -> KVState {
        var pairs: [(ByteKey, String)] = []
        pairs.reserveCapacity(data.count / 64)
        do {
            try JSONParser.forEachStringMember(in: data) { key, value in pairs.append((ByteKey(key), value)) }
        } catch {
            throw RestoreError(description: "a snapshot must hold one JSON object of string values: \(error)")
        }
        // Sorted by key, then by position: for a repeated key the last one wins, as in JSON.
        let order = pairs.indices.sorted { pairs[$0].0 < pairs[$1].0 || (pairs[$0].0 == pairs[$1].0 && $0 < $1) }
        var builder = OrderedKeyMap.Builder()
        for (position, index) in order.enumerated() {
            if position + 1 < order.count && pairs[order[position + 1]].0 == pairs[index].0 { continue }
            try? builder.append(pairs[index].0, KeyRecord(value: pairs[index].1, createRevision: 1, modRevision: 1, version: 1))
        }
        var state = KVState()
        state.keys = builder.finish()
        state.revision = state.keys.isEmpty ? 0 : 1
        return state
    }
}
