import ClientFront
import ClusterTransport
import Dispatch
import KVStore
import KVWire
import NodeHosting
import RaftCore
import RaftWire
import RuntimeSupport
import Synchronization

/// What a member process does with its peers beyond Raft itself, all over the runtime's
/// `Transport`: tells every member its node's status (every 200 ms, so `status` anywhere shows
/// the whole cluster; members silent for too long show as down), passes cluster-wide switches
/// to every member, passes client writes to the leader's member (`ProposalForwarder`) and other
/// requests it cannot serve to the member that can, and dispatches what the peers send.
public final class MemberServices: TransportReceiver, RequestForwarder, @unchecked Sendable {
    struct Waiting {
        var peer: NodeID
        var deadline: UInt64
        var respond: @Sendable (String?, Bool) -> Void
    }

    let localID: NodeID
    let transport: Transport
    let registry: ClusterRegistry
    let switchboard: Switchboard
    let events: EventLog
    private let proposals: ProposalForwarder
    /// Set once by `attach`, before the transport starts.
    private let router = Mutex<RequestRouter?>(nil)
    private let timers = Mutex<[DispatchSourceBox]>([])
    private let queue = DispatchQueue(label: "raft.member.services")
    /// Forwarded requests waiting for their answer, by correlation id.
    private let waiting = Mutex<(next: UInt64, byID: [UInt64: Waiting])>((1, [:]))
    /// How long past a request's own deadline an unanswered forward is given up on.
    static let graceNanos: UInt64 = 200_000_000

    /// The runtime's node `localID` reaches its peers through `transport`.
    public init(localID: NodeID, transport: Transport, registry: ClusterRegistry, switchboard: Switchboard, events: EventLog,
                requestTimeoutMs: Int) {
        self.localID = localID
        self.transport = transport
        self.registry = registry
        self.switchboard = switchboard
        self.events = events
        self.proposals = ProposalForwarder(giveUpAfterMs: 2 * requestTimeoutMs + 5_000, transport: transport,
                                           localHost: { [weak registry] in registry?.host(localID) })
    }

    public func attach(router: RequestRouter) {
        self.router.withLock { $0 = router }
    }

    /// Starts the transport and the status gossip.
    public func start() throws(TransportError) {
        try transport.start(receiver: self)
        let gossip = DispatchSource.makeTimerSource(queue: queue)
        gossip.schedule(deadline: .now() + .milliseconds(50), repeating: .milliseconds(200), leeway: .milliseconds(20))
        gossip.setEventHandler { [weak self] in self?.tellPeers() }
        let sweeper = DispatchSource.makeTimerSource(queue: queue)
        sweeper.schedule(deadline: .now() + .milliseconds(50), repeating: .milliseconds(50), leeway: .milliseconds(10))
        sweeper.setEventHandler { [weak self] in self?.expireForwards() }
        timers.withLock { $0 = [DispatchSourceBox(gossip), DispatchSourceBox(sweeper)] }
        gossip.resume()
        sweeper.resume()
    }

    public func stop() {
        timers.withLock { timers in
            for timer in timers { timer.source.cancel() }
            timers.removeAll()
        }
        proposals.stop()
        transport.stop()
    }

    /// Lets every member the configuration names know this node's status (which keeps a link to
    /// each of them open); peers silent for too long show as down.
    private func tellPeers() {
        registry.expireSilentPeers()
        guard let status = registry.status(of: localID) else { return }
        let members = registry.configuration?.configuration.ids ?? []
        for member in members where member != localID { transport.send(.status(status), to: member) }
    }

    /// Passes a cluster-wide switch to every other member of the configuration.
    public func broadcast(_ request: AdminRequest) {
        let members = registry.configuration?.configuration.ids ?? []
        for member in members where member != localID { transport.send(.admin(request), to: member) }
    }

    // MARK: - TransportReceiver

    public func received(_ message: PeerMessage, from peer: NodeID) {
        switch message {
        case .raft(let envelopes):
            switchboard.receive(envelopes)
        case .status(let status):
            registry.updateFromPeer(status, metrics: nil)
        case .admin(let request):
            router.withLock { $0 }?.handle(.admin(request), id: nil, hops: RequestRouter.maxHops) { _ in }
        case .proposals(let forwarded):
            // Only key-value commands are proposed on a member's behalf.
            let commands = forwarded.filter { (try? KVCommand.decodeFast($0.command)) != nil }
            if commands.count < forwarded.count {
                events.log(.warning, "node \(peer) passed on \(forwarded.count - commands.count) proposal(s) that are not key-value commands; ignored")
            }
            proposals.received(proposals: commands, from: peer)
        case .outcomes(let outcomes):
            proposals.received(outcomes: outcomes, from: peer)
        case .request(let id, let hops, let request):
            serve(request, id: id, hops: hops, for: peer)
        case .answer(let id, let line):
            let entry = waiting.withLock { $0.byID.removeValue(forKey: id) }
            entry?.respond(line, true)
        }
    }

    public func linkLost(to peer: NodeID) {
        proposals.linkLost(peer)
        let lost = waiting.withLock { state -> [Waiting] in
            let ids = state.byID.keys.filter { state.byID[$0]!.peer == peer }.sorted()
            return ids.map { state.byID.removeValue(forKey: $0)! }
        }
        for entry in lost { entry.respond(nil, true) }
    }

    /// A request another member could not serve: answered here, the answer sent back.
    private func serve(_ request: ClientRequest, id: UInt64, hops: Int, for peer: NodeID) {
        guard let router = router.withLock({ $0 }) else { return }
        let transport = self.transport
        router.handle(request, id: nil, hops: hops) { line in
            transport.send(.answer(id: id, line: line), to: peer)
        }
    }

    // MARK: - RequestForwarder

    public func propose(_ command: String, to node: NodeID, waiter: WriteWaiter) {
        proposals.propose(command, to: node, waiter: waiter)
    }

    public func forward(_ request: ClientRequest, to node: NodeID, hops: Int, deadline: UInt64,
                        respond: @escaping @Sendable (String?, Bool) -> Void) {
        let id = waiting.withLock { state -> UInt64 in
            let id = state.next
            state.next += 1
            state.byID[id] = Waiting(peer: node, deadline: deadline, respond: respond)
            return id
        }
        transport.send(.request(id: id, hops: hops, request: request), to: node) { [weak self] in
            // It never left: nothing happened.
            let entry = self?.waiting.withLock { $0.byID.removeValue(forKey: id) }
            entry?.respond(nil, false)
        }
    }

    /// Answers forwards whose deadline passed (their late answers are ignored when they come).
    /// The deadline is the router's running time, which a pause stops; without a router yet,
    /// nothing expires.
    private func expireForwards() {
        guard let router = router.withLock({ $0 }) else { return }
        let now = router.clock.now()
        let expired = waiting.withLock { state -> [Waiting] in
            let ids = state.byID.keys.filter { now > state.byID[$0]!.deadline + Self.graceNanos }.sorted()
            return ids.map { state.byID.removeValue(forKey: $0)! }
        }
        for entry in expired { entry.respond(nil, true) }
    }
}
