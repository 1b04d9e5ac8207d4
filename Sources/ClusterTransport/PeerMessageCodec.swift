import KVWire
import NodeHosting
import RaftCore
import RaftWire
import RuntimeSupport

/// `PeerMessage`s as `PeerFrame`s and back: how member processes put their messages on the
/// wire (and how the in-memory transport checks that everything it carries would survive it).
public enum PeerMessageCodec {
    /// Forwarded requests were checked where they entered; these limits only bound the parse.
    static let forwardedLimits = WireLimits(keyBytes: 1 << 30, valueBytes: 1 << 30, lineBytes: 1 << 30)

    public static func frame(_ message: PeerMessage) -> PeerFrame {
        switch message {
        case .raft(let envelopes):
            return PeerFrame(kind: .raft, payload: MessageCodec.encode(envelopes))
        case .status(let status):
            return PeerFrame(kind: .status, payload: NodeStatusCodec.encode(status))
        case .admin(let request):
            return PeerFrame(kind: .admin, payload: Array(RequestEncoder.line(.admin(request)).utf8))
        case .proposals(let proposals):
            return PeerFrame(kind: .propose, payload: ProposalCodec.encode(proposals))
        case .outcomes(let outcomes):
            return PeerFrame(kind: .outcome, payload: ProposalCodec.encode(outcomes))
        case .request(let id, let hops, let request):
            return PeerFrame(kind: .request, payload: ForwardCodec.encodeRequest(id: id, hops: hops, line: RequestEncoder.line(request)))
        case .answer(let id, let line):
            return PeerFrame(kind: .answer, payload: ForwardCodec.encodeAnswer(id: id, line: line))
        }
    }

    /// Reads one frame from `peer`. Throws, with the reason, for anything no member would send:
    /// the link is then closed.
    public static func message(_ frame: PeerFrame, from peer: NodeID, to local: NodeID) throws(WireError) -> PeerMessage {
        switch frame.kind {
        case .raft:
            let envelopes = try MessageCodec.decode(frame.payload)
            guard envelopes.allSatisfy({ $0.from == peer && $0.to == local }) else {
                throw .malformed("Raft messages not from node \(peer) or not for node \(local)")
            }
            return .raft(envelopes)
        case .status:
            guard let status = NodeStatusCodec.decode(frame.payload), status.id == peer else {
                throw .malformed("a status that is not node \(peer)'s")
            }
            return .status(status)
        case .admin:
            guard case .success(let parsed) = RequestParser.parse(frame.payload[...], limits: forwardedLimits).result,
                  case .admin(let request) = parsed.operation else {
                throw .malformed("an admin frame that is not an admin request")
            }
            return .admin(request)
        case .propose:
            let proposals = try ProposalCodec.decodeProposals(frame.payload)
            return .proposals(proposals)
        case .outcome:
            return .outcomes(try ProposalCodec.decodeOutcomes(frame.payload))
        case .request:
            let (id, hops, line) = try ForwardCodec.decodeRequest(frame.payload)
            guard case .success(let request) = RequestParser.parse(line[...], limits: forwardedLimits).result else {
                throw .malformed("a forwarded request that does not parse")
            }
            return .request(id: id, hops: hops, request: request)
        case .answer:
            let (id, line) = try ForwardCodec.decodeAnswer(frame.payload)
            return .answer(id: id, line: line)
        case .hello, .challenge, .proof:
            throw .malformed("a handshake frame after the handshake")
        case .sealed:
            throw .malformed("a sealed frame where none was expected")
        }
    }
}
