import RaftCore

/// Raft messages in the `raft` frame's payload, compactly: a count, then each envelope as
/// varints (from, to, term), a type byte and the type's fields. Entries carry their kind (command,
/// no-op, configuration) so configurations travel as data. Decoding validates everything and
/// throws `WireError` on any inconsistency.
public enum MessageCodec {
    enum Tag: UInt8 {
        case voteRequest = 1, voteResponse, appendRequest, appendResponse, snapshotRequest, snapshotResponse, timeoutNow
        /// Reads at followers. A build that predates them refuses these tags and closes the link
        /// (it does not crash), so a member sends them only to a leader whose status says it
        /// reads them (`NodeStatus.followerReads`).
        case readIndexRequest, readIndexResponse
    }

    public static func encode(_ envelopes: [Envelope]) -> [UInt8] {
        var writer = BinaryWriter()
        writer.bytes.reserveCapacity(64 + envelopes.count * 32)
        writer.int(envelopes.count)
        for envelope in envelopes { write(envelope, &writer) }
        return writer.bytes
    }

    public static func decode(_ payload: [UInt8]) throws(WireError) -> [Envelope] {
        var reader = BinaryReader(payload)
        let count = try reader.int()
        guard count <= payload.count else { throw .malformed("message count \(count) exceeds the payload") }
        var envelopes: [Envelope] = []
        envelopes.reserveCapacity(count)
        for _ in 0..<count { envelopes.append(try read(&reader)) }
        guard reader.atEnd else { throw .malformed("bytes left after the last message") }
        return envelopes
    }

    // MARK: - Writing

    static func write(_ envelope: Envelope, _ writer: inout BinaryWriter) {
        writer.int(envelope.from)
        writer.int(envelope.to)
        writer.int(envelope.term)
        switch envelope.message {
        case .voteRequest(let request):
            writer.byte(Tag.voteRequest.rawValue)
            writer.bool(request.preVote)
            writer.int(request.lastLogIndex)
            writer.int(request.lastLogTerm)
            writer.bool(request.transfer)
        case .voteResponse(let response):
            writer.byte(Tag.voteResponse.rawValue)
            writer.bool(response.preVote)
            writer.bool(response.granted)
        case .appendRequest(let request):
            writer.byte(Tag.appendRequest.rawValue)
            writer.int(request.prevLogIndex)
            writer.int(request.prevLogTerm)
            writer.int(request.leaderCommit)
            writer.varint(request.readContext)
            writer.int(request.entries.count)
            for entry in request.entries { write(entry, &writer) }
        case .appendResponse(let response):
            writer.byte(Tag.appendResponse.rawValue)
            writer.bool(response.success)
            writer.int(response.matchIndex)
            writer.int(response.rejectedIndex)
            writer.int(response.hintIndex)
            writer.optional(response.hintTerm)
            writer.varint(response.readContext)
        case .snapshotRequest(let chunk):
            writer.byte(Tag.snapshotRequest.rawValue)
            writer.int(chunk.index)
            writer.int(chunk.term)
            writer.int(chunk.offset)
            writer.bool(chunk.done)
            write(chunk.configuration, &writer)
            writer.data(chunk.data)
        case .snapshotResponse(let response):
            writer.byte(Tag.snapshotResponse.rawValue)
            writer.int(response.index)
            writer.int(response.received)
        case .timeoutNow:
            writer.byte(Tag.timeoutNow.rawValue)
        case .readIndexRequest(let request):
            writer.byte(Tag.readIndexRequest.rawValue)
            writeIDs(request.ids, &writer)
        case .readIndexResponse(let response):
            writer.byte(Tag.readIndexResponse.rawValue)
            writer.int(response.index)
            writeIDs(response.ids, &writer)
        }
    }

    static func writeIDs(_ ids: [UInt64], _ writer: inout BinaryWriter) {
        writer.int(ids.count)
        for id in ids { writer.varint(id) }
    }

    static func write(_ entry: Entry, _ writer: inout BinaryWriter) {
        writer.int(entry.index)
        writer.int(entry.term)
        if let configuration = entry.configuration {
            writer.byte(2)
            write(configuration, &writer)
        } else if entry.data.isEmpty {
            writer.byte(1)
        } else {
            writer.byte(0)
            writer.string(entry.data)
        }
    }

    static func write(_ configuration: ClusterConfiguration, _ writer: inout BinaryWriter) {
        writer.int(configuration.members.count)
        for member in configuration.members {
            writer.int(member.id)
            writer.byte((member.isVoter ? 1 : 0) | (member.promoteWhenCaughtUp ? 2 : 0))
            writer.string(member.context)
        }
    }

    // MARK: - Reading

    static func read(_ reader: inout BinaryReader) throws(WireError) -> Envelope {
        let from = try reader.int()
        let to = try reader.int()
        let term = try reader.int()
        guard let tag = Tag(rawValue: try reader.byte()) else { throw .malformed("unknown message type") }
        let message: Message
        switch tag {
        case .voteRequest:
            message = .voteRequest(VoteRequest(preVote: try reader.bool(), lastLogIndex: try reader.int(),
                                               lastLogTerm: try reader.int(), transfer: try reader.bool()))
        case .voteResponse:
            message = .voteResponse(VoteResponse(preVote: try reader.bool(), granted: try reader.bool()))
        case .appendRequest:
            let prevLogIndex = try reader.int()
            let prevLogTerm = try reader.int()
            let leaderCommit = try reader.int()
            let readContext = try reader.varint()
            let count = try reader.int()
            guard count <= reader.bytes.count else { throw .malformed("entry count \(count) exceeds the payload") }
            var entries: [Entry] = []
            entries.reserveCapacity(count)
            for position in 0..<count {
                let entry = try readEntry(&reader)
                guard entry.index == prevLogIndex + 1 + position else { throw .malformed("entries are not contiguous") }
                entries.append(entry)
            }
            message = .appendRequest(AppendRequest(prevLogIndex: prevLogIndex, prevLogTerm: prevLogTerm, entries: entries,
                                                   leaderCommit: leaderCommit, readContext: readContext))
        case .appendResponse:
            message = .appendResponse(AppendResponse(success: try reader.bool(), matchIndex: try reader.int(),
                                                     rejectedIndex: try reader.int(), hintIndex: try reader.int(),
                                                     hintTerm: try reader.optional(), readContext: try reader.varint()))
        case .snapshotRequest:
            let index = try reader.int()
            let snapshotTerm = try reader.int()
            let offset = try reader.int()
            let done = try reader.bool()
            let configuration = try readConfiguration(&reader)
            message = .snapshotRequest(SnapshotChunk(index: index, term: snapshotTerm, offset: offset, data: try reader.data(),
                                                     done: done, configuration: configuration))
        case .snapshotResponse:
            message = .snapshotResponse(SnapshotChunkResponse(index: try reader.int(), received: try reader.int()))
        case .timeoutNow:
            message = .timeoutNow
        case .readIndexRequest:
            message = .readIndexRequest(ReadIndexRequest(ids: try readIDs(&reader)))
        case .readIndexResponse:
            let index = try reader.int()
            message = .readIndexResponse(ReadIndexResponse(ids: try readIDs(&reader), index: index))
        }
        return Envelope(from: from, to: to, term: term, message: message)
    }

    static func readIDs(_ reader: inout BinaryReader) throws(WireError) -> [UInt64] {
        let count = try reader.int()
        guard count <= reader.bytes.count else { throw .malformed("read count \(count) exceeds the payload") }
        var ids: [UInt64] = []
        ids.reserveCapacity(count)
        for _ in 0..<count { ids.append(try reader.varint()) }
        return ids
    }

    static func readEntry(_ reader: inout BinaryReader) throws(WireError) -> Entry {
        let index = try reader.int()
        let term = try reader.int()
        switch try reader.byte() {
        case 0:
            let data = try reader.string()
            guard !data.isEmpty else { throw .malformed("a command entry without a command") }
            return Entry(index: index, term: term, data: data)
        case 1:
            return Entry(index: index, term: term, data: "")
        case 2:
            return Entry(index: index, term: term, data: "", configuration: try readConfiguration(&reader))
        default:
            throw .malformed("unknown entry kind")
        }
    }

    static func readConfiguration(_ reader: inout BinaryReader) throws(WireError) -> ClusterConfiguration {
        let count = try reader.int()
        guard count <= 1024 else { throw .malformed("a configuration of \(count) members") }
        var members: [Member] = []
        for _ in 0..<count {
            let id = try reader.int()
            let flags = try reader.byte()
            guard flags <= 3 else { throw .malformed("unknown member flags") }
            members.append(Member(id: id, isVoter: flags & 1 != 0, promoteWhenCaughtUp: flags & 2 != 0, context: try reader.string()))
        }
        return ClusterConfiguration(members: members)
    }
}
