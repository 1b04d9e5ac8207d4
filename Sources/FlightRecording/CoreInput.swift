import RaftCore

/// One call an engine made into its node's core, with what the call returned when it returns
/// something. Replaying these calls in order on the recorded starting state reproduces the core
/// exactly: the core has no other inputs (no clock, no randomness but its seeded generator).
public enum CoreInput: Sendable, Equatable {
    /// Ticks in a row with nothing else in between, recorded as one.
    case tick(count: Int)
    case receive(Envelope)
    case propose(commands: [String], result: ProposalResult)
    case readIndex(ids: [UInt64], accepted: Bool)
    /// A membership change; `result` is "appended INDEX@TERM" or the refusal's text.
    case changeConfiguration(ConfigurationChange, result: String)
    /// A leadership transfer; `result` is "started" or the refusal's text.
    case transferLeadership(to: NodeID, result: String)
    case persisted(index: LogIndex, term: Term)
    /// A snapshot taken here: the log is cut through `snapshot.index` and the core keeps the bytes.
    case compact(Snapshot)
    /// `takeReady()` was called; the digest of what it handed out.
    case takeReady(ReadyDigest)

    public var isTakeReady: Bool {
        if case .takeReady = self { return true }
        return false
    }

    /// The record's key in a trace line.
    var key: TraceKey {
        switch self {
        case .tick: return .tick
        case .receive: return .receive
        case .propose: return .propose
        case .readIndex: return .readIndex
        case .changeConfiguration: return .change
        case .transferLeadership: return .transfer
        case .persisted: return .persisted
        case .compact: return .compact
        case .takeReady: return .ready
        }
    }

    public var description: String {
        switch self {
        case .tick(let count): return count == 1 ? "tick" : "tick ×\(count)"
        case .receive(let envelope): return "receive \(envelope)"
        case .propose(let commands, let result): return "propose \(commands.count) command\(commands.count == 1 ? "" : "s") → \(result)"
        case .readIndex(let ids, let accepted): return "read index for \(ids.count) read\(ids.count == 1 ? "" : "s") → \(accepted ? "asked" : "refused")"
        case .changeConfiguration(let change, let result): return "change \(change) → \(result)"
        case .transferLeadership(let target, let result): return "transfer to \(target) → \(result)"
        case .persisted(let index, let term): return "persisted through \(index)@\(term)"
        case .compact(let snapshot): return "compact through \(snapshot.index)@\(snapshot.term) (\(snapshot.data.count) bytes)"
        case .takeReady(let digest): return "take ready \(digest)"
        }
    }
}

/// The text a configuration change's result is recorded as.
public func describe(_ result: Result<(index: LogIndex, term: Term), ConfigurationChangeError>) -> String {
    switch result {
    case .success(let appended): return "appended \(appended.index)@\(appended.term)"
    case .failure(let error): return "refused: \(error)"
    }
}

/// The text a transfer's result is recorded as.
public func describe(_ result: Result<Void, TransferError>) -> String {
    switch result {
    case .success: return "started"
    case .failure(let error): return "refused: \(error)"
    }
}
