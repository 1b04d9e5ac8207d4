import Dispatch

/// A connection's read source and whether it is paused (back-pressure: too much output
/// waiting). Owned by one connection, on that connection's queue.
public struct ReadGate {
    private var source: DispatchSourceRead?
    public private(set) var isPaused = false

    public init() {}

    /// Takes the (already resumed) source to manage.
    public mutating func attach(_ source: DispatchSourceRead) {
        self.source = source
    }

    public mutating func pause() {
        guard !isPaused, let source else { return }
        source.suspend()
        isPaused = true
    }

    public mutating func resume() {
        guard isPaused, let source else { return }
        isPaused = false
        source.resume()
    }

    /// Cancels the source for good (a suspended source must be resumed to be cancelled).
    public mutating func stop() {
        guard let source else { return }
        if isPaused {
            source.resume()
            isPaused = false
        }
        source.cancel()
        self.source = nil
    }
}
