import FlightRecording
import RaftCore
import RaftVerification

/// The cluster-wide side of a replay: the steps counted and the first problem, the simulator's
/// safety checker (once it can run), every node's disk as its engine wrote it, and the messages
/// sent but not yet received. Each node's replay parts (recorder, stores, transport) report here.
final class ReplayChecks {
    var summary = ReplaySummary()
    /// The time of the last replayed record.
    private(set) var now: UInt64 = 0
    var checker: SafetyChecker?
    /// Sees each step as it is replayed.
    var observe: ((ReplayStep) -> Void)?
    /// Every disk a recording has begun, by node.
    private var disks: [NodeID: ReplayDisk] = [:]
    private(set) var inFlight: [InFlightMessage] = []
    /// At most this many messages are kept in flight; the oldest (most likely lost) go first.
    let inFlightLimit: Int
    /// Sees the in-flight list change, in order (time travel keeps its own copy, with ids).
    var flightObserver: ((FlightChange) -> Void)?
    /// The node and record of the last step: a problem found between records is reported there.
    private var last: (node: NodeID, seq: Int) = (0, 0)

    init(inFlightLimit: Int) {
        self.inFlightLimit = inFlightLimit
    }

    var problem: ReplayProblem? { summary.problem }

    /// `record` of `node` is replayed: it is the current step.
    func counted(_ record: TraceRecord, node: NodeID) {
        summary.steps += 1
        now = record.time
        last = (node, record.seq)
        observe?(ReplayStep(step: summary.steps, time: record.time, node: node, seq: record.seq, text: record.description))
    }

    /// The replay's first problem, at the current step; later ones are ignored.
    func report(_ kind: ReplayProblem.Kind, _ text: String) {
        guard summary.problem == nil else { return }
        summary.problem = ReplayProblem(kind: kind, step: summary.steps, node: last.node, seq: last.seq, text: text)
    }

    /// Turns the checker's first violation into the replay's problem, at the current step.
    func noteViolation() {
        if let violation = checker?.violation { report(.violation, violation) }
    }

    // MARK: - Disks

    func register(_ disk: ReplayDisk) {
        disks[disk.node] = disk
    }

    /// What every begun node's disk holds now, for the checks that look across the cluster.
    func durableViews() -> [NodeID: DurableView] {
        var views: [NodeID: DurableView] = [:]
        for (node, disk) in disks { views[node] = disk.view() }
        return views
    }

    // MARK: - Messages

    func sent(_ envelopes: [Envelope]) {
        for envelope in envelopes { inFlight.append(InFlightMessage(step: summary.steps, envelope: envelope)) }
        flightObserver?(.sent(envelopes))
        if inFlight.count > inFlightLimit {
            let evicted = inFlight.count - inFlightLimit
            inFlight.removeFirst(evicted)
            flightObserver?(.evicted(count: evicted))
        }
    }

    /// A node received `envelope`: the oldest copy in flight has arrived.
    func received(_ envelope: Envelope) {
        guard let position = inFlight.firstIndex(where: {
            $0.envelope.from == envelope.from && $0.envelope.to == envelope.to && $0.envelope == envelope
        }) else { return }
        inFlight.remove(at: position)
        flightObserver?(.received(position: position))
    }
}

/// How the in-flight list changed: messages appended, the one at `position` received, the
/// oldest `count` pushed out by the limit.
enum FlightChange {
    case sent([Envelope])
    case received(position: Int)
    case evicted(count: Int)
}
