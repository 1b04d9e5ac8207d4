/// The work a node hands to its runtime after one or more inputs, to be done in this order:
///
/// 1. persist `snapshot` (if set, atomically), then `hardState` (if set) — durable before step 2;
/// 2. send `earlyMessages` (a leader's AppendEntries and snapshot chunks);
/// 3. persist the log change (`entries`, or the whole log when `logReplaced`), durably, then
///    tell the node with `persisted(through:term:)` (the last entry's index and term);
/// 4. send `messages`;
/// 5. if `snapshot` is set, load it into the state machine; then apply `committedEntries`, in
///    order (they continue right after the snapshot or the previous Ready's);
/// 6. serve each of `readStates` once the state machine has applied its index.
///
/// `messages` may acknowledge votes and entries that are only in this Ready, so they wait for
/// everything to be durable ("persist before you speak", Figure 2). `earlyMessages` promise
/// nothing about this node's log: a leader replicates while it writes its own copy and counts
/// that copy toward a quorum only once `persisted` says it is durable (Raft thesis §10.2.1).
/// They still wait for `hardState`, whose term they carry.
public struct Ready: Sendable, CustomStringConvertible {
    /// A snapshot received from the leader, to store and to load into the state machine.
    public var snapshot: Snapshot?
    /// Term and vote to write atomically, when they changed since the last Ready.
    public var hardState: HardState?
    /// Log entries to write: drop every stored entry at or after `entries[0].index`, then append these.
    public var entries: [Entry]
    /// The stored log must be replaced by exactly `entries` (possibly none), all after `snapshot`.
    public var logReplaced: Bool
    /// A leader's replication messages: may go once `hardState` is durable, before the log write.
    public var earlyMessages: [Envelope]
    /// Messages to deliver after everything above is durable.
    public var messages: [Envelope]
    /// Entries now known committed, contiguous, starting right after the last Ready's.
    public var committedEntries: [Entry]
    /// Linearizable reads whose leadership check passed.
    public var readStates: [ReadState]
    /// Readable notes for the event log.
    public var events: [RaftEvent]

    public init(snapshot: Snapshot? = nil, hardState: HardState? = nil, entries: [Entry] = [], logReplaced: Bool = false,
                earlyMessages: [Envelope] = [], messages: [Envelope] = [], committedEntries: [Entry] = [],
                readStates: [ReadState] = [], events: [RaftEvent] = []) {
        self.snapshot = snapshot
        self.hardState = hardState
        self.entries = entries
        self.logReplaced = logReplaced
        self.earlyMessages = earlyMessages
        self.messages = messages
        self.committedEntries = committedEntries
        self.readStates = readStates
        self.events = events
    }

    /// Every message of the Ready, early ones first.
    public var allMessages: [Envelope] { earlyMessages + messages }

    /// Something must be written to disk.
    public var needsPersisting: Bool { snapshot != nil || hardState != nil || !entries.isEmpty || logReplaced }

    public var isEmpty: Bool {
        snapshot == nil && hardState == nil && entries.isEmpty && !logReplaced && earlyMessages.isEmpty
            && messages.isEmpty && committedEntries.isEmpty && readStates.isEmpty && events.isEmpty
    }

    public var description: String {
        var parts: [String] = []
        if let snapshot { parts.append("install \(snapshot)") }
        if let hardState { parts.append("persist \(hardState)") }
        if !earlyMessages.isEmpty { parts.append("send early \(earlyMessages.count)") }
        if logReplaced { parts.append("replace log") }
        if !entries.isEmpty { parts.append("write \(entries.first!.index)...\(entries.last!.index)") }
        if !messages.isEmpty { parts.append("send \(messages.count)") }
        if !committedEntries.isEmpty {
            parts.append("apply \(committedEntries.first!.index)...\(committedEntries.last!.index)")
        }
        if !readStates.isEmpty { parts.append("reads \(readStates.count)") }
        return parts.isEmpty ? "Ready(empty)" : "Ready(" + parts.joined(separator: ", ") + ")"
    }
}
