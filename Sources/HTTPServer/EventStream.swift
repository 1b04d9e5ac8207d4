import Synchronization

/// The sending end of one server-sent-events response. The handler keeps it and sends events
/// from any thread; the connection writes them out in order. `isOpen` turns false once the
/// client went away (or fell too far behind), and sending then does nothing.
public final class EventStream: Sendable {
    struct State {
        var sink: (@Sendable ([UInt8]) -> Bool)?
        /// Events sent before the connection attached, written first.
        var early: [[UInt8]] = []
        var closed = false
    }

    private let state = Mutex(State())

    public init() {}

    public var isOpen: Bool { state.withLock { !$0.closed } }

    /// One event: `data` (split into `data:` lines), with an optional type.
    public func send(event: String? = nil, data: String) {
        var text = ""
        if let event { text += "event: \(event)\n" }
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) { text += "data: \(line)\n" }
        text += "\n"
        sendRaw(Array(text.utf8))
    }

    /// A comment line, which keeps proxies and browsers from timing the stream out.
    public func keepAlive() {
        sendRaw(Array(": keep-alive\n\n".utf8))
    }

    func sendRaw(_ bytes: [UInt8]) {
        let sink = state.withLock { state -> (@Sendable ([UInt8]) -> Bool)? in
            if state.closed { return nil }
            if state.sink == nil { state.early.append(bytes) }
            return state.sink
        }
        if let sink, !sink(bytes) { close() }
    }

    /// The connection attaches: earlier events go out first.
    func attach(_ sink: @escaping @Sendable ([UInt8]) -> Bool) {
        let early = state.withLock { state -> [[UInt8]] in
            state.sink = sink
            defer { state.early.removeAll() }
            return state.early
        }
        for bytes in early where !sink(bytes) {
            close()
            return
        }
    }

    public func close() {
        state.withLock { state in
            state.closed = true
            state.sink = nil
            state.early.removeAll()
        }
    }
}
