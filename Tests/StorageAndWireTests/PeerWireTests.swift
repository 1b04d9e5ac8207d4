import RaftCore
import RaftWire
import Testing

/// The frames and Raft messages members exchange over TCP.
@Suite struct PeerWireTests {
    static let configuration = ClusterConfiguration(members: [
        Member(id: 0, isVoter: true, context: #"{"raft":"127.0.0.1:7100"}"#),
        Member(id: 3, isVoter: false, promoteWhenCaughtUp: true, context: ""),
    ])

    static let everyMessage: [Envelope] = [
        Envelope(from: 1, to: 2, term: 7, message: .voteRequest(VoteRequest(preVote: true, lastLogIndex: 41, lastLogTerm: 6, transfer: false))),
        Envelope(from: 1, to: 2, term: 7, message: .voteRequest(VoteRequest(preVote: false, lastLogIndex: 0, lastLogTerm: 0, transfer: true))),
        Envelope(from: 2, to: 1, term: 7, message: .voteResponse(VoteResponse(preVote: false, granted: true))),
        Envelope(from: 0, to: 1, term: 3, message: .appendRequest(AppendRequest(
            prevLogIndex: 9, prevLogTerm: 2,
            entries: [Entry(index: 10, term: 3, data: ""), Entry(index: 11, term: 3, data: #"{"op":"put","key":"é","value":"✓"}"#),
                      Entry(index: 12, term: 3, data: "", configuration: configuration)],
            leaderCommit: 9, readContext: 1 << 40))),
        Envelope(from: 1, to: 0, term: 3, message: .appendResponse(AppendResponse(success: false, matchIndex: 0, rejectedIndex: 12,
                                                                                  hintIndex: 5, hintTerm: 2, readContext: 3))),
        Envelope(from: 1, to: 0, term: 3, message: .appendResponse(AppendResponse(success: true, matchIndex: 12))),
        Envelope(from: 0, to: 4, term: 3, message: .snapshotRequest(SnapshotChunk(index: 100, term: 3, offset: 8, data: [0, 255, 7],
                                                                                  done: true, configuration: configuration))),
        Envelope(from: 4, to: 0, term: 3, message: .snapshotResponse(SnapshotChunkResponse(index: 100, received: 11))),
        Envelope(from: 0, to: 2, term: 3, message: .timeoutNow),
        Envelope(from: 2, to: 0, term: 3, message: .readIndexRequest(ReadIndexRequest(ids: [1, 1 << 63, 42]))),
        Envelope(from: 0, to: 2, term: 3, message: .readIndexResponse(ReadIndexResponse(ids: [UInt64.max, 7], index: 12))),
    ]

    @Test func everyMessageSurvivesTheRoundTrip() throws {
        let decoded = try MessageCodec.decode(MessageCodec.encode(Self.everyMessage))
        #expect(decoded == Self.everyMessage)
    }

    @Test func framesSurviveBeingSplitAnywhere() throws {
        let frames = [PeerFrame(kind: .hello, payload: Array("3".utf8)),
                      PeerFrame(kind: .raft, payload: MessageCodec.encode(Self.everyMessage)),
                      PeerFrame(kind: .status, payload: [])]
        let stream = frames.flatMap { $0.encoded() }
        for cut in [1, 5, 12, 13, stream.count / 2, stream.count - 1] {
            var reader = PeerFrameReader(limit: 1 << 20)
            var received: [PeerFrame] = []
            try stream[..<cut].withUnsafeBytes { received += try reader.feed($0) }
            try stream[cut...].withUnsafeBytes { received += try reader.feed($0) }
            #expect(received == frames, "cut at \(cut)")
        }
    }

    @Test func badFramesAreRefusedWithAReason() {
        func refusal(_ bytes: [UInt8], limit: Int = 1024) -> WireError? {
            var reader = PeerFrameReader(limit: limit)
            do {
                _ = try bytes.withUnsafeBytes { try reader.feed($0) }
                return nil
            } catch {
                return error as? WireError
            }
        }
        let good = PeerFrame(kind: .raft, payload: [1, 2, 3]).encoded()
        #expect(refusal(Array("GET / HTTP/1.1\r\n".utf8)) == .badMagic)
        #expect(refusal([0x52, 0x4B, 9]) == .unsupportedVersion(9), "refused as soon as the version byte arrives")
        var corrupted = good
        corrupted[corrupted.count - 1] ^= 0xFF
        #expect(refusal(corrupted) == .checksumMismatch)
        #expect(refusal(PeerFrame(kind: .raft, payload: Array(repeating: 0, count: 2000)).encoded()) == .tooLarge(2000, limit: 1024))
        var unknownKind = good
        unknownKind[3] = 99
        #expect(refusal(unknownKind) == .malformed("unknown frame kind 99"))
    }

    @Test func garbageInsideAFrameIsRefusedNotTrusted() {
        let valid = MessageCodec.encode([Self.everyMessage[3]])
        for length in 0..<valid.count {
            #expect(throws: WireError.self, "truncated at \(length)") { try MessageCodec.decode(Array(valid[..<length])) }
        }
        var gap = valid
        // Entry indexes must follow prevLogIndex: make the first entry claim another index.
        if let position = gap.firstIndex(of: 10) { gap[position] = 20 }
        #expect(throws: WireError.self) { try MessageCodec.decode(gap) }
        #expect(throws: WireError.self) { try MessageCodec.decode([1, 0, 0, 0, 99]) }
        #expect(throws: WireError.self) { try MessageCodec.decode([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) }
    }

    @Test func forwardedProposalsAndTheirOutcomesSurviveTheRoundTrip() throws {
        let proposals = [ForwardedProposal(id: 1, command: #"{"op":"put","key":"a","value":"é ☃"}"#),
                         ForwardedProposal(id: 1 << 40, command: #"{"op":"delete","key":"b"}"#)]
        #expect(try ProposalCodec.decodeProposals(ProposalCodec.encode(proposals)) == proposals)
        let outcomes: [(id: UInt64, outcome: ForwardedOutcome)] = [
            (1, .appended), (1, .applied([1, 2, 3])), (2, .applied([])), (3, .applied(Array(repeating: 0xFF, count: 300))),
            (5, .notLeader(hint: 2)), (6, .notLeader(hint: nil)), (7, .lost), (8, .unknown), (9, .nodeDown),
        ]
        let decoded = try ProposalCodec.decodeOutcomes(ProposalCodec.encode(outcomes))
        #expect(decoded.map(\.id) == outcomes.map(\.id))
        #expect(decoded.map(\.outcome) == outcomes.map(\.outcome))
        let valid = ProposalCodec.encode(proposals)
        for length in 0..<valid.count {
            #expect(throws: WireError.self, "truncated at \(length)") { try ProposalCodec.decodeProposals(Array(valid[..<length])) }
        }
        #expect(throws: WireError.self) { try ProposalCodec.decodeOutcomes([1, 1, 99]) }
        #expect(throws: WireError.self) { try ProposalCodec.decodeProposals(valid + [0]) }
    }
}
