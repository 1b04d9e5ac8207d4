import RaftCore

/// What a node found on disk when it (re)started, as a recording states it.
public struct LoadSummary: Sendable, Equatable, Codable {
    public var hardState: HardState
    public var snapshotIndex: LogIndex?
    public var entries: Int
    public var droppedTornTail: Bool
    public var droppedStaleSuffix: Bool

    public init(hardState: HardState, snapshotIndex: LogIndex?, entries: Int, droppedTornTail: Bool, droppedStaleSuffix: Bool) {
        self.hardState = hardState
        self.snapshotIndex = snapshotIndex
        self.entries = entries
        self.droppedTornTail = droppedTornTail
        self.droppedStaleSuffix = droppedStaleSuffix
    }
}

/// One event in a node's recording.
public enum TraceEvent: Sendable {
    /// The node (re)started: its core as built from what was loaded.
    indirect case start(core: RaftNode, loaded: LoadSummary)
    /// The core at a quiet moment (between flushes, nothing waiting in `takeReady`): where a
    /// bounded recording may begin, and a state a replay must reach exactly.
    indirect case checkpoint(RaftNode)
    case input(CoreInput)
    /// The node stopped: killed, crashed, or the server shut down — or (`failed`) a write failed,
    /// so the last Ready may have reached the disk only in part.
    case stop(reason: String, failed: Bool)
}

/// One line of a trace file: a node's event with its sequence number (consecutive within a
/// node's recording, across restarts) and the monotonic time it happened (nanoseconds; the
/// replay merges nodes by it).
public struct TraceRecord: Sendable {
    public var seq: Int
    public var time: UInt64
    public var event: TraceEvent

    public init(seq: Int, time: UInt64, event: TraceEvent) {
        self.seq = seq
        self.time = time
        self.event = event
    }

    public var description: String {
        switch event {
        case .start(let core, let loaded):
            return "start: term \(loaded.hardState.term), snapshot \(loaded.snapshotIndex.map(String.init) ?? "none"), \(loaded.entries) entries loaded, log \(core.log.firstIndex)...\(core.log.lastIndex)"
        case .checkpoint(let core):
            return "checkpoint: term \(core.term) \(core.roleKind.rawValue), commit \(core.commitIndex), log ...\(core.log.lastIndex)"
        case .input(let input):
            return input.description
        case .stop(let reason, let failed):
            return (failed ? "stop (a write failed): " : "stop: ") + reason
        }
    }
}

/// The keys of a trace line besides `seq` and `t`: exactly one of them says what happened.
enum TraceKey: String, CodingKey, CaseIterable {
    case seq, t
    case start, checkpoint, stop
    case tick, receive, propose, readIndex, change, transfer, persisted, compact, ready
}

extension TraceRecord: Codable {
    private struct StartBody: Codable { var core: RaftNode; var loaded: LoadSummary }
    private struct ProposeBody: Codable { var commands: [String]; var result: ProposalResult }
    private struct ReadIndexBody: Codable { var ids: [UInt64]; var accepted: Bool }
    private struct ChangeBody: Codable { var change: ConfigurationChange; var result: String }
    private struct TransferBody: Codable { var to: NodeID; var result: String }
    private struct PersistedBody: Codable { var index: LogIndex; var term: Term }
    private struct StopBody: Codable { var reason: String; var failed: Bool }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: TraceKey.self)
        seq = try container.decode(Int.self, forKey: .seq)
        time = try container.decode(UInt64.self, forKey: .t)
        let kinds = container.allKeys.filter { $0 != .seq && $0 != .t }
        guard kinds.count == 1, let kind = kinds.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: container.codingPath,
                                                    debugDescription: "a trace line names exactly one event, found \(kinds.map(\.rawValue))"))
        }
        switch kind {
        case .seq, .t:
            fatalError("filtered out above")
        case .start:
            let body = try container.decode(StartBody.self, forKey: kind)
            event = .start(core: body.core, loaded: body.loaded)
        case .checkpoint:
            event = .checkpoint(try container.decode(RaftNode.self, forKey: kind))
        case .stop:
            let body = try container.decode(StopBody.self, forKey: kind)
            event = .stop(reason: body.reason, failed: body.failed)
        case .tick:
            event = .input(.tick(count: try container.decode(Int.self, forKey: kind)))
        case .receive:
            event = .input(.receive(try container.decode(Envelope.self, forKey: kind)))
        case .propose:
            let body = try container.decode(ProposeBody.self, forKey: kind)
            event = .input(.propose(commands: body.commands, result: body.result))
        case .readIndex:
            let body = try container.decode(ReadIndexBody.self, forKey: kind)
            event = .input(.readIndex(ids: body.ids, accepted: body.accepted))
        case .change:
            let body = try container.decode(ChangeBody.self, forKey: kind)
            event = .input(.changeConfiguration(body.change, result: body.result))
        case .transfer:
            let body = try container.decode(TransferBody.self, forKey: kind)
            event = .input(.transferLeadership(to: body.to, result: body.result))
        case .persisted:
            let body = try container.decode(PersistedBody.self, forKey: kind)
            event = .input(.persisted(index: body.index, term: body.term))
        case .compact:
            event = .input(.compact(try container.decode(Snapshot.self, forKey: kind)))
        case .ready:
            event = .input(.takeReady(try container.decode(ReadyDigest.self, forKey: kind)))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: TraceKey.self)
        try container.encode(seq, forKey: .seq)
        try container.encode(time, forKey: .t)
        switch event {
        case .start(let core, let loaded):
            try container.encode(StartBody(core: core, loaded: loaded), forKey: .start)
        case .checkpoint(let core):
            try container.encode(core, forKey: .checkpoint)
        case .stop(let reason, let failed):
            try container.encode(StopBody(reason: reason, failed: failed), forKey: .stop)
        case .input(let input):
            let key = input.key
            switch input {
            case .tick(let count): try container.encode(count, forKey: key)
            case .receive(let envelope): try container.encode(envelope, forKey: key)
            case .propose(let commands, let result): try container.encode(ProposeBody(commands: commands, result: result), forKey: key)
            case .readIndex(let ids, let accepted): try container.encode(ReadIndexBody(ids: ids, accepted: accepted), forKey: key)
            case .changeConfiguration(let change, let result): try container.encode(ChangeBody(change: change, result: result), forKey: key)
            case .transferLeadership(let target, let result): try container.encode(TransferBody(to: target, result: result), forKey: key)
            case .persisted(let index, let term): try container.encode(PersistedBody(index: index, term: term), forKey: key)
            case .compact(let snapshot): try container.encode(snapshot, forKey: key)
            case .takeReady(let digest): try container.encode(digest, forKey: key)
            }
        }
    }
}
