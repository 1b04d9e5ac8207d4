import FlightRecording
import KVStore

extension TimeTravel where Machine == KVStateMachine {
    /// Indexes a server's recordings: its engines ran the key-value store.
    public convenience init(traces: [NodeTrace], notes: [TimelineNote] = [], progress: ((Int) -> Void)? = nil) {
        self.init(traces: traces, machine: KVStateMachine.self, notes: notes, revision: { $0.revision }, progress: progress)
    }
}
