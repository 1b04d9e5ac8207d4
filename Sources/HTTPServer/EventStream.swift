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
        var onClose: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    public init() {}

    public var isOpen: Bool { state.withLock { !$0.closed } }

    /// One event: `data` (split into `data:` lines), with an optional type.
    public func send(event: String? = nil, data: String) {
        sendRaw(Self.frame(event: event, data: data))
    }

    /// An event as it goes on the wire, to build once and send to many streams with `send(frame:)`.
    public static func frame(event: String? = nil, data: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(data.utf8.count + 32)
        if let event { bytes.append(contentsOf: "event: \(event)\n".utf8) }
        for line in data.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            bytes.append(contentsOf: "data: ".utf8)
            bytes.append(contentsOf: line)
            bytes.append(UInt8(ascii: "\n"))
        }
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// An event built by `frame(event:data:)`.
    public func send(frame: [UInt8]) {
        sendRaw(frame)
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
        let onClose = state.withLock { state -> (@Sendable () -> Void)? in
            state.closed = true
            state.sink = nil
            state.early.removeAll()
            defer { state.onClose = nil }
            return state.onClose
        }
        onClose?()
    }

    /// Runs `body` once, when the stream closes (the client went away, or the server ended it).
    public func whenClosed(_ body: @escaping @Sendable () -> Void) {
        let closedAlready = state.withLock { state -> Bool in
            if state.closed { return true }
            state.onClose = body
            return false
        }
        if closedAlready { body() }
    }
}
