import FlightRecording
import KVStore

extension Replayer where Machine == KVStateMachine {
    /// Replays a server's recordings: its engines ran the key-value store.
    public convenience init(traces: [NodeTrace]) {
        self.init(traces: traces, machine: KVStateMachine.self)
    }
}
