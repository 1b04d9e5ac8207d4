/// Turns Jepsen's events — one line per invocation or completion, matched by process — into
/// operations, with Jepsen's meaning of each completion:
/// - `:ok`: it happened, with the value shown (for a read, nil means the key was absent);
/// - `:fail`: it did not happen. A failed `:cas` is also a refusal: its comparison failed, so
///   at its instant the key did not hold the expected value (what it held is unknown) — the
///   reading Jepsen's etcd and ZooKeeper clients give a failed cas, and Porcupine's; with
///   `failedCASIsRefusal` false it only did not happen;
/// - `:info`, or no completion at all: it may have happened at any instant after the call, or
///   never. An `:info` ends the process: Jepsen gives the client that replaces it a new id.
/// Times are line numbers, so the order of the file is the order of events.
struct ProcessPairing {
    enum EventType: String { case invoke, ok, fail, info }
    enum Function: String { case read, write, cas, get, put, append, delete }

    /// A value in an event: nil, a string (numbers are kept as their text), or a pair.
    indirect enum Value: Equatable {
        case none
        case text(String)
        case pair(Value, Value)
        /// A keyword such as `:timed-out`: says something about the event, not the key.
        case keyword(String)

        var string: String? {
            if case .text(let text) = self { return text }
            return nil
        }
    }

    struct Event {
        var process: Int
        var type: EventType
        var function: Function
        var key: String
        var value: Value
        var line: Int
    }

    struct Failure: Error, CustomStringConvertible {
        var line: Int
        var reason: String
        var description: String { "line \(line): \(reason)" }
    }

    var failedCASIsRefusal = true
    private(set) var operations: [KVOperation] = []
    private var pending: [Int: (event: Event, kind: KVOperation.Kind)] = [:]
    private(set) var unmatchedCompletions = 0

    mutating func add(_ event: Event) throws {
        guard event.type != .invoke else {
            let kind = try Self.kind(of: event)
            if let earlier = pending[event.process] { finish(earlier.event, kind: earlier.kind, outcome: .unknown, at: nil) }
            pending[event.process] = (event, kind)
            return
        }
        guard let (invocation, kind) = pending.removeValue(forKey: event.process) else {
            unmatchedCompletions += 1
            return
        }
        switch event.type {
        case .ok:
            let value: String? = (kind == .get) ? event.value.string : nil
            if kind == .get, event.value != .none, value == nil {
                throw Failure(line: event.line, reason: "a read's answer is neither nil nor a value")
            }
            finish(invocation, kind: kind, outcome: .ok(value), at: event.line)
        case .fail:
            if case .cas = kind, failedCASIsRefusal { finish(invocation, kind: kind, outcome: .casRefused, at: event.line) }
        case .info:
            finish(invocation, kind: kind, outcome: .unknown, at: nil)
        case .invoke:
            break
        }
    }

    /// The operations, with every invocation never completed left as unknown.
    mutating func finished() -> [KVOperation] {
        for (_, open) in pending.sorted(by: { $0.value.event.line < $1.value.event.line }) {
            finish(open.event, kind: open.kind, outcome: .unknown, at: nil)
        }
        pending = [:]
        var inCallOrder = operations.sorted { $0.call < $1.call }
        for index in inCallOrder.indices { inCallOrder[index].id = index }
        return inCallOrder
    }

    private mutating func finish(_ invocation: Event, kind: KVOperation.Kind, outcome: KVOperation.Outcome, at line: Int?) {
        operations.append(KVOperation(id: operations.count, client: invocation.process, key: invocation.key, kind: kind,
                                      call: UInt64(invocation.line), response: line.map(UInt64.init), outcome: outcome))
    }

    static func kind(of event: Event) throws -> KVOperation.Kind {
        switch event.function {
        case .read, .get: return .get
        case .delete: return .delete
        case .write, .put, .append:
            guard let value = event.value.string else { throw Failure(line: event.line, reason: "a \(event.function) needs a value") }
            return event.function == .append ? .append(value) : .put(value)
        case .cas:
            guard case .pair(let expected, let new) = event.value, let value = new.string, expected.string != nil || expected == .none else {
                throw Failure(line: event.line, reason: "a cas needs [expected new]")
            }
            return .cas(expect: expected.string, value: value)
        }
    }
}
