import Dispatch

/// A connection's write source, the twin of `ReadGate`: it exists only while the socket's
/// buffer is full, and is cancelled as soon as everything has gone out. Owned by one
/// connection, on that connection's queue.
public struct WriteGate {
    private var source: DispatchSourceWrite?

    public init() {}

    /// Waits for `fd` to take bytes again and then calls `writable` on `queue`; `cancelled` runs
    /// once the source is gone. Returns whether a new source was made (none while one waits).
    public mutating func arm(fd: Int32, queue: DispatchQueue, writable: @escaping @Sendable () -> Void,
                             cancelled: @escaping @Sendable () -> Void) -> Bool {
        guard source == nil else { return false }
        let source = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler(handler: writable)
        source.setCancelHandler(handler: cancelled)
        self.source = source
        source.resume()
        return true
    }

    /// Cancels the source, if one waits.
    public mutating func stop() {
        source?.cancel()
        source = nil
    }
}
