/// A write a follower member passes to the leader's member: the command as it will stand in the
/// log, under a number the sender picked to match the answer.
public struct ForwardedProposal: Sendable, Equatable {
    public var id: UInt64
    public var command: String

    public init(id: UInt64, command: String) {
        self.id = id
        self.command = command
    }
}

/// What became of a forwarded proposal, sent back to the member that passed it on. The leader's
/// node may report `appended` first; every proposal gets exactly one of the others.
public enum ForwardedOutcome: Sendable, Equatable {
    case appended
    /// Applied: the state machine's result, as the application encodes it.
    case applied([UInt8])
    case notLeader(hint: Int?)
    case lost
    case unknown
    case nodeDown
}

/// The payloads of `propose` and `outcome` frames.
public enum ProposalCodec {
    public static func encode(_ proposals: [ForwardedProposal]) -> [UInt8] {
        var writer = BinaryWriter()
        writer.int(proposals.count)
        for proposal in proposals {
            writer.varint(proposal.id)
            writer.string(proposal.command)
        }
        return writer.bytes
    }

    public static func decodeProposals(_ bytes: [UInt8]) throws(WireError) -> [ForwardedProposal] {
        var reader = BinaryReader(bytes)
        let count = try reader.int()
        guard count <= bytes.count else { throw .malformed("\(count) proposals in \(bytes.count) bytes") }
        var proposals: [ForwardedProposal] = []
        proposals.reserveCapacity(count)
        for _ in 0..<count {
            proposals.append(ForwardedProposal(id: try reader.varint(), command: try reader.string()))
        }
        guard reader.atEnd else { throw .malformed("bytes after the last proposal") }
        return proposals
    }

    public static func encode(_ outcomes: [(id: UInt64, outcome: ForwardedOutcome)]) -> [UInt8] {
        var writer = BinaryWriter()
        writer.int(outcomes.count)
        for (id, outcome) in outcomes {
            writer.varint(id)
            switch outcome {
            case .appended: writer.byte(1)
            case .applied(let result):
                writer.byte(2)
                writer.data(result)
            case .notLeader(let hint):
                writer.byte(4)
                writer.optional(hint)
            case .lost: writer.byte(5)
            case .unknown: writer.byte(6)
            case .nodeDown: writer.byte(7)
            }
        }
        return writer.bytes
    }

    public static func decodeOutcomes(_ bytes: [UInt8]) throws(WireError) -> [(id: UInt64, outcome: ForwardedOutcome)] {
        var reader = BinaryReader(bytes)
        let count = try reader.int()
        guard count <= bytes.count else { throw .malformed("\(count) outcomes in \(bytes.count) bytes") }
        var outcomes: [(id: UInt64, outcome: ForwardedOutcome)] = []
        outcomes.reserveCapacity(count)
        for _ in 0..<count {
            let id = try reader.varint()
            let outcome: ForwardedOutcome
            switch try reader.byte() {
            case 1: outcome = .appended
            case 2: outcome = .applied(try reader.data())
            case 4: outcome = .notLeader(hint: try reader.optional())
            case 5: outcome = .lost
            case 6: outcome = .unknown
            case 7: outcome = .nodeDown
            case let other: throw .malformed("unknown outcome \(other)")
            }
            outcomes.append((id, outcome))
        }
        guard reader.atEnd else { throw .malformed("bytes after the last outcome") }
        return outcomes
    }
}
