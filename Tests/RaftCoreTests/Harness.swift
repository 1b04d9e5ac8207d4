@testable import RaftCore

/// Hand-driven nodes for unit tests: no network, messages are passed by the test.
struct Harness {
    static let config = RaftConfig(heartbeatTicks: 1, electionTicksMin: 10, electionTicksMax: 20)

    static func node(_ id: NodeID, of size: Int = 3, term: Term = 0, votedFor: NodeID? = nil,
                     log: [Entry] = [], config: RaftConfig = config) -> RaftNode {
        RaftNode(id: id, clusterSize: size, config: config, hardState: HardState(term: term, votedFor: votedFor),
                 log: RaftLog(entries: log), seed: UInt64(id + 1))
    }

    /// Entries with the given terms at indexes 1, 2, ...
    static func entries(terms: [Term]) -> [Entry] {
        terms.enumerated().map { Entry(index: $0.offset + 1, term: $0.element, data: "e\($0.offset + 1)") }
    }

    /// Ticks until the node hands out messages, and returns that Ready.
    static func tickUntilMessages(_ node: inout RaftNode, limit: Int = 100) -> Ready {
        for _ in 0..<limit {
            node.tick()
            let ready = node.takeReady()
            if !ready.messages.isEmpty { return ready }
        }
        return Ready()
    }

    /// Makes `node` leader of `term` by feeding it grants (pre-vote and vote), then persists
    /// what it handed out, as the runtime would.
    static func elect(_ node: inout RaftNode) {
        _ = tickUntilMessages(&node)
        let voters = node.configuration.voters
        if node.roleKind == .preCandidate {
            for peer in voters where peer != node.id {
                node.receive(Envelope(from: peer, to: node.id, term: node.term + 1,
                                      message: .voteResponse(VoteResponse(preVote: true, granted: true))))
            }
        }
        for peer in voters where peer != node.id && node.roleKind == .candidate {
            node.receive(Envelope(from: peer, to: node.id, term: node.term,
                                  message: .voteResponse(VoteResponse(preVote: false, granted: true))))
        }
        _ = persist(&node)
    }

    /// Takes the Ready and reports its entries durable, as the runtime does after writing them.
    @discardableResult
    static func persist(_ node: inout RaftNode) -> Ready {
        let ready = node.takeReady()
        if let last = ready.entries.last { node.persisted(through: last.index, term: last.term) }
        return ready
    }
}
