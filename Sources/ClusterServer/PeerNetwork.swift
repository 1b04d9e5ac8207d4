#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import NetworkIO
import KVStore
import KVWire
import RaftCore
import RaftWire
import Synchronization

/// The TCP side of one node per process: listens on the member's `raft` address, keeps one link
/// per peer member, and carries between processes the Raft messages (batched per flush, one frame
/// per peer), each member's status (every 200 ms, so `status` anywhere shows the whole cluster),
/// and cluster-wide switches (partition, slow, heal). It also forwards client requests a member
/// cannot serve to the member that can, over that member's client port.
///
/// A peer that sends garbage or a frame over the limit is disconnected and logged; the member
/// keeps serving.
final class PeerNetwork: PeerTransport, RequestForwarder, FaultBroadcaster, @unchecked Sendable {
    let localID: NodeID
    let listenAddress: String
    let events: EventLog
    let frameLimit: Int
    private let acceptQueue = DispatchQueue(label: "raft.peers.accept")
    private let links = Mutex<[NodeID: PeerLink]>([:])
    private let forwarders = Mutex<[NodeID: ForwardPool]>([:])
    private let timers = Mutex<[DispatchSourceBox]>([])
    private let listener = Mutex<(fd: Int32, source: DispatchSourceBox?)>((-1, nil))
    /// Set once by `attach`; read-only afterwards.
    private let context = Mutex<(registry: ClusterRegistry, switchboard: Switchboard, router: RequestRouter)?>(nil)
    /// Client writes passed to the leader's member, and those passed here.
    private let proposals = Mutex<ProposalForwarder?>(nil)

    init(localID: NodeID, listenAddress: String, events: EventLog, lineBytes: Int) {
        self.localID = localID
        self.listenAddress = listenAddress
        self.events = events
        self.frameLimit = max(16 << 20, 2 * lineBytes + (2 << 20))
    }

    func attach(registry: ClusterRegistry, switchboard: Switchboard, router: RequestRouter, requestTimeoutMs: Int) {
        context.withLock { $0 = (registry, switchboard, router) }
        let localID = self.localID
        let forwarder = ProposalForwarder(
            giveUpAfterMs: 2 * requestTimeoutMs + 5_000,
            localHost: { [weak registry] in registry?.host(localID) },
            onLinkQueue: { [weak self] peer, work in
                guard let self else { return }
                let link = self.link(peer)
                link.queue.async { work { frame, dropped in link.sendHere(frame, bulk: false, onDrop: dropped) } }
            })
        proposals.withLock { $0 = forwarder }
    }

    /// The link to `peer` broke.
    func linkLost(_ peer: NodeID) {
        proposals.withLock { $0 }?.linkLost(peer)
    }

    private var registry: ClusterRegistry? { context.withLock { $0?.registry } }

    func raftAddress(of node: NodeID) -> String? { registry?.addresses(of: node)?.raft }

    // MARK: - Lifecycle

    /// Listens on the raft address and starts the status and membership timers.
    func start() throws(Sockets.Failure) {
        guard let split = MemberAddresses.split(listenAddress) else {
            throw .failed(host: listenAddress, port: 0, reason: "not a host:port address")
        }
        let fd = try Sockets.listen(host: split.host, port: split.port)
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: acceptQueue)
        source.setEventHandler { [weak self] in self?.acceptAll(fd) }
        source.setCancelHandler { Glibc.close(fd) }
        listener.withLock { $0 = (fd, DispatchSourceBox(source)) }
        source.resume()
        let gossip = DispatchSource.makeTimerSource(queue: acceptQueue)
        gossip.schedule(deadline: .now() + .milliseconds(50), repeating: .milliseconds(200), leeway: .milliseconds(20))
        gossip.setEventHandler { [weak self] in self?.tellPeers() }
        gossip.resume()
        timers.withLock { $0.append(DispatchSourceBox(gossip)) }
    }

    func stop() {
        listener.withLock { $0.source?.source.cancel() }
        timers.withLock { timers in
            for timer in timers { timer.source.cancel() }
            timers.removeAll()
        }
        for link in links.withLock({ Array($0.values) }) { link.stop() }
        for pool in forwarders.withLock({ Array($0.values) }) { pool.close() }
        proposals.withLock { $0 }?.stop()
    }

    /// The link to `peer`, made on first use.
    private func link(_ peer: NodeID) -> PeerLink {
        let (link, isNew) = links.withLock { links -> (PeerLink, Bool) in
            if let link = links[peer] { return (link, false) }
            let link = PeerLink(peer: peer, network: self, dials: localID < peer)
            links[peer] = link
            return (link, true)
        }
        if isNew { link.start() }
        return link
    }

    /// Keeps a link to every member the configuration names, and lets peers know our status;
    /// peers silent for too long show as down.
    private func tellPeers() {
        guard let registry else { return }
        let members = registry.configuration?.configuration.ids ?? []
        for member in members where member != localID { _ = link(member) }
        registry.expireSilentPeers()
        guard let status = registry.status(of: localID) else { return }
        let frame = PeerFrame(kind: .status, payload: NodeStatusCodec.encode(status)).encoded()
        for link in links.withLock({ Array($0.values) }) { link.send(frame, bulk: false) }
    }

    // MARK: - Incoming connections

    private func acceptAll(_ listenFD: Int32) {
        while let fd = Sockets.accept(listenFD) {
            Handshake(fd: fd, network: self).start()
        }
    }

    /// A peer said hello on `fd`: it is node `peer`.
    fileprivate func identified(_ fd: Int32, as peer: NodeID, reader: PeerFrameReader, frames: [PeerFrame]) {
        guard peer >= 0, peer < localID else {
            // Only a lower id dials a higher one; anything else is not a member of this cluster.
            events.log(.warning, "a connection to the raft port introduced itself as node \(peer), which never dials node \(localID); closed")
            Glibc.close(fd)
            return
        }
        link(peer).adopt(fd, reader: reader, frames: frames)
    }

    // MARK: - Frames

    /// Frames from `peer` (on its link's queue). Returns why the link should be closed, when
    /// the peer sent something no member would.
    func received(_ frames: [PeerFrame], from peer: NodeID) -> String? {
        guard let (registry, switchboard, router) = context.withLock({ $0 }) else { return nil }
        for frame in frames {
            switch frame.kind {
            case .raft:
                let envelopes: [Envelope]
                do {
                    envelopes = try MessageCodec.decode(frame.payload)
                } catch {
                    return "unreadable Raft messages (\(error))"
                }
                guard envelopes.allSatisfy({ $0.from == peer && $0.to == localID }) else {
                    return "Raft messages not from node \(peer) or not for node \(localID)"
                }
                switchboard.receiveFromPeer(envelopes)
            case .status:
                if let status = NodeStatusCodec.decode(frame.payload), status.id == peer {
                    registry.updateFromPeer(status, metrics: nil)
                }
            case .admin:
                let parsed = RequestParser.parse(frame.payload[...], limits: WireLimits())
                if case .success(.admin(let request)) = parsed.result {
                    router.handle(.admin(request), id: nil, hops: RequestRouter.maxHops) { _ in }
                }
            case .propose:
                let forwarded: [ForwardedProposal]
                do {
                    forwarded = try ProposalCodec.decodeProposals(frame.payload)
                } catch {
                    return "unreadable proposals (\(error))"
                }
                guard forwarded.allSatisfy({ (try? KVCommand.decodeFast($0.command)) != nil }) else {
                    return "a proposal that is not a key-value command"
                }
                proposals.withLock { $0 }?.received(proposals: forwarded, from: peer)
            case .outcome:
                do {
                    let outcomes = try ProposalCodec.decodeOutcomes(frame.payload)
                    proposals.withLock { $0 }?.received(outcomes: outcomes, from: peer)
                } catch {
                    return "unreadable outcomes (\(error))"
                }
            case .hello:
                return "a second hello"
            }
        }
        return nil
    }

    // MARK: - PeerTransport

    func send(_ envelopes: [Envelope]) {
        var start = 0
        while start < envelopes.count {
            let target = envelopes[start].to
            var end = start + 1
            while end < envelopes.count && envelopes[end].to == target { end += 1 }
            let batch = Array(envelopes[start..<end])
            let bulk = batch.contains { if case .snapshotRequest = $0.message { return true } else { return false } }
            link(target).send(PeerFrame(kind: .raft, payload: MessageCodec.encode(batch)).encoded(), bulk: bulk)
            start = end
        }
    }

    // MARK: - FaultBroadcaster

    func broadcast(_ request: AdminRequest) {
        let line = RequestEncoder.line(.admin(request), hops: RequestRouter.maxHops)
        let frame = PeerFrame(kind: .admin, payload: Array(line.utf8)).encoded()
        let members = registry?.configuration?.configuration.ids ?? []
        for member in members where member != localID { link(member).send(frame, bulk: false) }
    }

    // MARK: - RequestForwarder

    func propose(_ command: String, to node: NodeID, waiter: WriteWaiter) {
        guard let forwarder = proposals.withLock({ $0 }) else { return waiter.finish(.nodeDown) }
        forwarder.propose(command, to: node, waiter: waiter)
    }

    func forward(_ request: ClientRequest, to node: NodeID, hops: Int, deadline: UInt64,
                 respond: @escaping @Sendable (String?, Bool) -> Void) {
        guard let address = registry?.addresses(of: node)?.client, let target = MemberAddresses.split(address) else {
            return respond(nil, false)
        }
        let pool = forwarders.withLock { pools -> ForwardPool in
            if let pool = pools[node], pool.address == address { return pool }
            pools[node]?.close()
            let pool = ForwardPool(address: address, host: target.host, port: target.port, events: events)
            pools[node] = pool
            return pool
        }
        pool.send(RequestEncoder.line(request, hops: hops), deadline: deadline, respond: respond)
    }
}

/// Reads the hello frame of a connection a peer opened, then hands the socket to its link.
/// A connection that does not say hello within five seconds is closed.
private final class Handshake: @unchecked Sendable {
    let fd: Int32
    unowned let network: PeerNetwork
    let queue = DispatchQueue(label: "raft.peers.handshake")
    var reader: PeerFrameReader
    var source: DispatchSourceRead?
    var finished = false
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(fd: Int32, network: PeerNetwork) {
        self.fd = fd
        self.network = network
        self.reader = PeerFrameReader(limit: network.frameLimit)
    }

    func start() {
        queue.async {
            let source = DispatchSource.makeReadSource(fileDescriptor: self.fd, queue: self.queue)
            source.setEventHandler { self.readAvailable() }
            self.source = source
            source.resume()
            self.queue.asyncAfter(deadline: .now() + .seconds(5)) { self.fail("no hello within 5 seconds") }
        }
    }

    private func readAvailable() {
        guard !finished else { return }
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return }
        guard count > 0 else { return fail(nil) }
        do {
            var frames = try buffer.withUnsafeBytes { try reader.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            guard let hello = frames.first else { return }
            guard hello.kind == .hello, let text = String(validating: hello.payload, as: UTF8.self), let peer = Int(text) else {
                return fail("the first frame is not a hello")
            }
            frames.removeFirst()
            finished = true
            // Hand over without closing: cancel the source, keep the descriptor.
            source?.setCancelHandler {}
            source?.cancel()
            network.identified(fd, as: peer, reader: reader, frames: frames)
        } catch {
            fail("\(error)")
        }
    }

    private func fail(_ reason: String?) {
        guard !finished else { return }
        finished = true
        if let reason { network.events.log(.warning, "a connection to the raft port was closed: \(reason)") }
        source?.setCancelHandler { [fd] in Glibc.close(fd) }
        source?.cancel()
    }
}
