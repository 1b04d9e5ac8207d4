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
        raft.compact(through: snapshot.index, data: snapshot.data)
    }

    func coreTakeReady() -> Ready {
        let ready = raft.takeReady()
        recorder?.record(.takeReady(ReadyDigest(ready, core: raft)))
        return ready
    }
}
