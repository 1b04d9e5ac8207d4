import FlightRecording
import RaftCore

/// Every call into the core goes through here, so the flight recorder sees each one, in order,
/// with what it returned. A new recording segment begins at a quiet moment — between flushes, at
/// an input from outside (a tick, a message, a finished snapshot), with nothing waiting in
/// `takeReady` — where a replay can build an engine around the core's copy.
extension NodeEngine {
    /// `betweenFlushes`: the engine is idle here (false only for `persisted`, which comes mid-flush).
    @inline(__always)
    private func note(_ input: @autoclosure () -> CoreInput, betweenFlushes: Bool = true) {
        guard let recorder else { return }
        if betweenFlushes && recorder.wantsCheckpoint && !raft.hasReady { recorder.checkpoint(raft) }
        recorder.record(input())
    }

    func coreTick() {
        note(.tick(count: 1))
        raft.tick()
    }

    func coreReceive(_ envelope: Envelope) {
        note(.receive(envelope))
        raft.receive(envelope)
    }

    func corePropose(_ commands: [String]) -> ProposalResult {
        let result = raft.propose(batch: commands)
        recorder?.record(.propose(commands: commands, result: result))
        return result
    }

    func coreReadIndex(_ ids: [UInt64]) -> Bool {
        let accepted = raft.readIndex(ids: ids)
        recorder?.record(.readIndex(ids: ids, accepted: accepted))
        return accepted
    }

    func coreChangeConfiguration(_ change: ConfigurationChange) -> Result<(index: LogIndex, term: Term), ConfigurationChangeError> {
        let result = raft.proposeConfigurationChange(change)
        recorder?.record(.changeConfiguration(change, result: describe(result)))
        return result
    }

    func coreTransfer(to target: NodeID) -> Result<Void, TransferError> {
        let result = raft.transferLeadership(to: target)
        recorder?.record(.transferLeadership(to: target, result: describe(result)))
        return result
    }

    func corePersisted(through index: LogIndex, term: Term) {
        note(.persisted(index: index, term: term), betweenFlushes: false)
        raft.persisted(through: index, term: term)
    }

    func coreCompact(_ snapshot: Snapshot) {
        note(.compact(Snapshot(index: snapshot.index, term: snapshot.term, data: snapshot.data)))
        let dropped = Retired(raft.compact(through: snapshot.index, data: snapshot.data))
        executor.offload({ dropped.release() }, then: { _ in })
    }

    func coreTakeReady() -> Ready {
        let ready = raft.takeReady()
        recorder?.record(.takeReady(ReadyDigest(ready, core: raft)))
        return ready
    }
}

/// A value handed to another thread to be freed there: `release` drops it wherever it runs,
/// whichever thread lets go of the box last. (A plain capture could be freed on the node's
/// thread, if the other thread finished before the node's local reference went away.)
final class Retired<Value>: @unchecked Sendable {
    // @unchecked: `value` is set once at init and cleared once by `release`, on the one thread
    // the box was handed to.
    private var value: Value?

    init(_ value: Value) {
        self.value = value
    }

    func release() {
        value = nil
    }
}
