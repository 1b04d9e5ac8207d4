import ClusterTransport
import Dispatch
import HTTPServer
import JSONText
import NodeHosting
import RaftCore
import RuntimeSupport
import Synchronization

/// What the web page draws, pushed to every browser over server-sent events (`/v1/events`):
/// every 100 ms a `state` event — the status answer, each local node's log tail, the held
/// messages when paused, and a sample of the Raft messages sent since the last one — and `log`
/// events with the event log's lines. Each event is serialized once for all browsers; with none
/// connected the feed does nothing, and the message tap is off.
public final class ConsoleFeed: Sendable {
    struct State {
        var subscribers: [EventStream] = []
        var pendingLog: [JSONValue] = []
        /// The last lines, for a browser that just connected.
        var recentLog: [JSONValue] = []
        var tails: [NodeID: JSONValue] = [:]
        var timer: DispatchSourceBox?
    }

    private let queue = DispatchQueue(label: "raft.console.feed")
    private let state = Mutex(State())
    private let sampler = MessageSampler()
    private let registry: ClusterRegistry
    private let switchboard: Switchboard
    /// The status answer's members and whatever else the page shows of the cluster.
    private let picture: @Sendable () -> [(String, JSONValue)]
    static let periodMs = 100
    static let tailLength = 48
    static let recentLogLines = 60

    /// From now on the feed keeps the last event-log lines, for a browser that connects later.
    public init(events: EventLog, registry: ClusterRegistry, switchboard: Switchboard,
                picture: @escaping @Sendable () -> [(String, JSONValue)]) {
        self.registry = registry
        self.switchboard = switchboard
        self.picture = picture
        events.observe { [weak self] record in self?.logged(record) }
    }

    /// A browser connected: it gets the recent log and the state at once, then every update.
    public func subscribe(_ stream: EventStream) {
        let (recent, first) = state.withLock { state -> ([JSONValue], Bool) in
            state.subscribers.append(stream)
            return (state.recentLog, state.subscribers.count == 1)
        }
        if first { start() }
        if !recent.isEmpty { stream.send(event: "log", data: Self.text(.array(recent))) }
        // The first state carries every node's log tail: ask for them now, and send it once they
        // answered (or after 50 ms, whichever comes first).
        let hosts = registry.localHosts
        let group = DispatchGroup()
        for host in hosts {
            group.enter()
            host.logTail(Self.tailLength) { [weak self] tail in
                self?.state.withLock { $0.tails[host.id] = tail }
                group.leave()
            }
        }
        _ = group.wait(timeout: .now() + .milliseconds(50))
        queue.async { stream.send(event: "state", data: self.stateText()) }
    }

    private func start() {
        switchboard.setTap { [sampler] envelopes in sampler.observe(envelopes) }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .milliseconds(Self.periodMs), repeating: .milliseconds(Self.periodMs),
                       leeway: .milliseconds(10))
        timer.setEventHandler { [weak self] in self?.publish() }
        let old = state.withLock { state -> DispatchSourceBox? in
            defer { state.timer = DispatchSourceBox(timer) }
            return state.timer
        }
        old?.source.cancel()
        timer.resume()
    }

    /// The last browser left: stop watching — unless one arrived meanwhile (checked under the
    /// same lock `subscribe` takes, so a new browser never finds the feed stopped).
    private func stopIfNobodyWatches() {
        let stopped = state.withLock { state -> DispatchSourceBox?? in
            guard state.subscribers.isEmpty else { return .none }
            defer {
                state.timer = nil
                state.tails.removeAll()  // a later browser must not get these old tails
            }
            return .some(state.timer)
        }
        guard let timer = stopped else { return }
        switchboard.setTap(nil)
        timer?.source.cancel()
    }

    private func logged(_ record: EventLog.EventRecord) {
        var members: [(key: String, value: JSONValue)] = [("time", .string(record.time)), ("level", .string(record.level.name))]
        if let node = record.node { members.append(("node", .int(node))) }
        members.append(("text", .string(record.message)))
        let line = JSONValue.object(JSONObject(members))
        state.withLock { state in
            if !state.subscribers.isEmpty { state.pendingLog.append(line) }
            state.recentLog.append(line)
            if state.recentLog.count > Self.recentLogLines { state.recentLog.removeFirst(state.recentLog.count - Self.recentLogLines) }
        }
    }

    private func publish() {
        let (subscribers, log) = state.withLock { state -> ([EventStream], [JSONValue]) in
            state.subscribers.removeAll { !$0.isOpen }
            defer { state.pendingLog.removeAll() }
            return (state.subscribers, state.pendingLog)
        }
        guard !subscribers.isEmpty else { return stopIfNobodyWatches() }
        requestTails()
        // Each event is put together once, whatever the number of browsers.
        let logFrame = log.isEmpty ? nil : EventStream.frame(event: "log", data: Self.text(.array(log)))
        let stateFrame = EventStream.frame(event: "state", data: self.stateText())
        for stream in subscribers {
            if let logFrame { stream.send(frame: logFrame) }
            stream.send(frame: stateFrame)
        }
    }

    /// Asks every local node for its log tail; the answers are used from the next publish on.
    private func requestTails() {
        for host in registry.localHosts {
            host.logTail(Self.tailLength) { [weak self] tail in
                self?.state.withLock { $0.tails[host.id] = tail }
            }
        }
    }

    private func stateText() -> String {
        var members = picture()
        let tails = state.withLock { $0.tails }
        members.append(("logs", .object(JSONObject(tails.keys.sorted().map { (String($0), tails[$0]!) }))))
        if switchboard.isPaused {
            members.append(("held", .array(switchboard.heldMessages.prefix(200).map(HeldMessage.json))))
        }
        let sample = sampler.take()
        members.append(("messages", .array(sample.messages)))
        members.append(("messagesSent", .int(sample.total)))
        members.append(("intervalMs", .int(Self.periodMs)))
        return Self.text(.object(JSONObject(members)))
    }

    static func text(_ value: JSONValue) -> String {
        var writer = JSONWriter()
        writer.value(value)
        return writer.text
    }
}

/// Counts the Raft messages that leave nodes and keeps a few of each period for the page to
/// draw; at full speed the rest are only counted, so a busy cluster cannot flood the browser.
final class MessageSampler: Sendable {
    private let total = Atomic<Int>(0)
    private let taken = Atomic<Int>(0)
    private let samples = Mutex<[JSONValue]>([])
    static let perPeriod = 24

    func observe(_ envelopes: [Envelope]) {
        total.wrappingAdd(envelopes.count, ordering: .relaxed)
        guard taken.load(ordering: .relaxed) < Self.perPeriod else { return }
        for envelope in envelopes {
            guard taken.wrappingAdd(1, ordering: .relaxed).oldValue < Self.perPeriod else { return }
            var fields: [(key: String, value: JSONValue)] = [
                ("from", .int(envelope.from)), ("to", .int(envelope.to)),
                ("type", .string(MessageKind.of(envelope.message).rawValue)), ("term", .int(envelope.term)),
            ]
            if case .appendRequest(let request) = envelope.message, !request.entries.isEmpty {
                fields.append(("entries", .int(request.entries.count)))
            }
            let sample = JSONValue.object(JSONObject(fields))
            samples.withLock { $0.append(sample) }
        }
    }

    /// The samples and the count since the last call.
    func take() -> (messages: [JSONValue], total: Int) {
        let messages = samples.withLock { samples -> [JSONValue] in
            defer { samples.removeAll() }
            return samples
        }
        taken.store(0, ordering: .relaxed)
        return (messages, total.exchange(0, ordering: .relaxed))
    }
}
