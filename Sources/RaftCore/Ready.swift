/// The work a node hands to its runtime after one or more inputs, to be done in this order:
///
/// 1. persist `hardState` (if set) and `entries` — both durable before step 2;
/// 2. send `messages`;
/// 3. apply `committedEntries` to the state machine, in order.
///
/// Messages may acknowledge votes and entries that are only in this Ready, so sending before
/// persisting would break the "persist before you speak" rule of Figure 2.
public struct Ready: Sendable, CustomStringConvertible {
    /// Term and vote to write atomically, when they changed since the last Ready.
    public var hardState: HardState?
    /// Log entries to write: drop every stored entry at or after `entries[0].index`, then append these.
    public var entries: [Entry]
    /// Messages to deliver after everything above is durable.
    public var messages: [Envelope]
    /// Entries now known committed, contiguous, starting right after the last Ready's.
    public var committedEntries: [Entry]
    /// Readable notes for the event log.
    public var events: [RaftEvent]

    public init(hardState: HardState? = nil, entries: [Entry] = [], messages: [Envelope] = [],
                committedEntries: [Entry] = [], events: [RaftEvent] = []) {
        self.hardState = hardState
        self.entries = entries
        self.messages = messages
        self.committedEntries = committedEntries
        self.events = events
    }

    public var isEmpty: Bool {
        hardState == nil && entries.isEmpty && messages.isEmpty && committedEntries.isEmpty && events.isEmpty
    }

    public var description: String {
        var parts: [String] = []
        if let hardState { parts.append("persist \(hardState)") }
        if !entries.isEmpty { parts.append("write \(entries.first!.index)...\(entries.last!.index)") }
        if !messages.isEmpty { parts.append("send \(messages.count)") }
        if !committedEntries.isEmpty {
            parts.append("apply \(committedEntries.first!.index)...\(committedEntries.last!.index)")
        }
        return parts.isEmpty ? "Ready(empty)" : "Ready(" + parts.joined(separator: ", ") + ")"
    }
}
