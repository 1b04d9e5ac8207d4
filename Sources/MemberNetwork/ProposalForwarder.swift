import Dispatch
import KVStore
import RaftCore
import RaftEngine
import RaftWire
import Synchronization
import ClientFront
import ClusterTransport
import NodeHosting
import RuntimeSupport

/// Client writes that arrive at a member whose node does not lead travel to the leader's member
/// over the peer link, as etcd forwards proposals: the command exactly as it will stand in the
/// log, batched per peer (one frame however many wait), and back come `appended` and the write's
/// fate, also batched. The leader's member proposes them to its node like local writes; the
/// sending member's `WriteTicket` sees the same outcomes a local node would give, so retries,
/// `timeout` and `unavailable` mean what they mean for local writes.
///
/// A proposal the link drops before sending is reported `nodeDown` (it never left: try again);
/// one in flight when the link breaks is `unknown` (it may commit), as is one unanswered for
/// longer than the longest request deadline.
final class ProposalForwarder: Sendable {
    struct Waiting {
        var waiter: WriteWaiter
        var peer: NodeID
        var sentAt: UInt64
    }

    struct State {
        var nextID: UInt64 = 1
        var waiting: [UInt64: Waiting] = [:]
        /// Proposals to send, and outcomes to send back, per peer; a flush is queued for each
        /// peer in `queued`.
        var proposals: [NodeID: [ForwardedProposal]] = [:]
        var outcomes: [NodeID: [(id: UInt64, outcome: ForwardedOutcome)]] = [:]
        var queued: Set<NodeID> = []
    }

    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "raft.proposals", qos: .userInitiated)
    private let transport: Transport
    private let localHost: @Sendable () -> NodeHost?
    private let giveUpAfterNanos: UInt64

    init(giveUpAfterMs: Int, transport: Transport, localHost: @escaping @Sendable () -> NodeHost?) {
        self.giveUpAfterNanos = UInt64(giveUpAfterMs) * 1_000_000
        self.localHost = localHost
        self.transport = transport
        let sweeper = DispatchSource.makeTimerSource(queue: queue)
        sweeper.schedule(deadline: .now() + .seconds(1), repeating: .seconds(1), leeway: .milliseconds(100))
        sweeper.setEventHandler { [weak self] in self?.sweep() }
        sweeper.resume()
        self.sweeper.withLock { $0 = DispatchSourceBox(sweeper) }
    }

    private let sweeper = Mutex<DispatchSourceBox?>(nil)

    func stop() {
        sweeper.withLock { $0?.source.cancel() }
    }

    // MARK: - The sending side (a follower's member)

    /// Passes `command` to the member of node `peer`; `waiter` hears what became of it.
    func propose(_ command: String, to peer: NodeID, waiter: WriteWaiter) {
        let now = MonotonicClock.now()
        let flush = state.withLock { state -> Bool in
            let id = state.nextID
            state.nextID += 1
            state.waiting[id] = Waiting(waiter: waiter, peer: peer, sentAt: now)
            state.proposals[peer, default: []].append(ForwardedProposal(id: id, command: command))
            return state.queued.insert(peer).inserted
        }
        if flush { scheduleFlush(peer) }
    }

    /// Outcomes from `peer`'s member.
    func received(outcomes: [(id: UInt64, outcome: ForwardedOutcome)], from peer: NodeID) {
        for (id, outcome) in outcomes {
            let waiter = state.withLock { state -> WriteWaiter? in
                guard let entry = state.waiting[id], entry.peer == peer else { return nil }
                if case .appended = outcome { return entry.waiter }
                return state.waiting.removeValue(forKey: id)?.waiter
            }
            guard let waiter else { continue }
            switch outcome {
            case .appended: waiter.appended()
            case .applied(let bytes):
                guard let result = try? KVResult.decode(bytes) else {
                    waiter.finish(.unknown)  // a member of another build: the write happened, its answer is unreadable
                    continue
                }
                waiter.finish(.applied(result))
            case .notLeader(let hint): waiter.finish(.notLeader(leaderHint: hint))
            case .lost: waiter.finish(.lost)
            case .unknown: waiter.finish(.unknown)
            case .nodeDown: waiter.finish(.nodeDown)
            }
        }
    }

    /// The link to `peer` broke: what was sent may or may not commit.
    func linkLost(_ peer: NodeID) {
        let lost = state.withLock { state -> [WriteWaiter] in
            let ids = state.waiting.keys.filter { state.waiting[$0]!.peer == peer }.sorted()
            return ids.map { state.waiting.removeValue(forKey: $0)!.waiter }
        }
        for waiter in lost { waiter.finish(.unknown) }
    }

    // MARK: - The receiving side (the leader's member)

    /// Proposals from `peer`'s member: propose each to this member's node; answers go back to `peer`.
    func received(proposals: [ForwardedProposal], from peer: NodeID) {
        guard let host = localHost() else {
            for proposal in proposals { reply(peer, proposal.id, .nodeDown) }
            return
        }
        for proposal in proposals {
            host.propose(encoded: proposal.command, waiter: RemoteWaiter(forwarder: self, peer: peer, id: proposal.id))
        }
    }

    fileprivate func reply(_ peer: NodeID, _ id: UInt64, _ outcome: ForwardedOutcome) {
        let flush = state.withLock { state -> Bool in
            state.outcomes[peer, default: []].append((id, outcome))
            return state.queued.insert(peer).inserted
        }
        if flush { scheduleFlush(peer) }
    }

    // MARK: - Batching

    /// Everything waiting for `peer` goes out as one message of each kind.
    private func scheduleFlush(_ peer: NodeID) {
        queue.async { [weak self] in
            guard let self else { return }
            let (proposals, outcomes) = self.state.withLock { state in
                state.queued.remove(peer)
                return (state.proposals.removeValue(forKey: peer) ?? [], state.outcomes.removeValue(forKey: peer) ?? [])
            }
            if !outcomes.isEmpty { self.transport.send(.outcomes(outcomes), to: peer) }
            if !proposals.isEmpty {
                let ids = proposals.map(\.id)
                self.transport.send(.proposals(proposals), to: peer) { [weak self] in self?.dropped(ids) }
            }
        }
    }

    /// Proposals that never left: their writers may try again.
    private func dropped(_ ids: [UInt64]) {
        let waiters = state.withLock { state in ids.compactMap { state.waiting.removeValue(forKey: $0)?.waiter } }
        for waiter in waiters { waiter.finish(.nodeDown) }
    }

    /// Proposals unanswered for too long (a member that hangs): their fate is unknown.
    private func sweep() {
        let now = MonotonicClock.now()
        let expired = state.withLock { state -> [WriteWaiter] in
            let ids = state.waiting.keys.filter { now - state.waiting[$0]!.sentAt > giveUpAfterNanos }.sorted()
            return ids.map { state.waiting.removeValue(forKey: $0)!.waiter }
        }
        for waiter in expired { waiter.finish(.unknown) }
    }
}

/// The leader's side of one forwarded proposal: passes `appended` and the outcome back.
private final class RemoteWaiter: WriteWaiter, Sendable {
    let forwarder: ProposalForwarder
    let peer: NodeID
    let id: UInt64

    init(forwarder: ProposalForwarder, peer: NodeID, id: UInt64) {
        self.forwarder = forwarder
        self.peer = peer
        self.id = id
    }

    func appended() {
        forwarder.reply(peer, id, .appended)
    }

    func finish(_ outcome: WriteOutcome<KVResult>) {
        let forwarded: ForwardedOutcome
        switch outcome {
        case .applied(let result): forwarded = .applied(result.encoded)
        case .notLeader(let hint): forwarded = .notLeader(hint: hint)
        case .lost: forwarded = .lost
        case .unknown: forwarded = .unknown
        case .nodeDown: forwarded = .nodeDown
        }
        forwarder.reply(peer, id, forwarded)
    }
}
