import JSONText

/// Splits a byte stream into `\n`-terminated lines (a trailing `\r` is dropped), refusing any
/// line longer than the limit. Bytes are kept until their line is complete.
public struct LineFramer: Sendable {
    public enum Event: Equatable {
        case line(ArraySlice<UInt8>)
        /// A line passed `limit` bytes before its end arrived; the stream cannot be resynchronised.
        case overflow
    }

    public let limit: Int
    private var buffer: [UInt8] = []
    /// Where the next scan for `\n` starts (bytes before it hold no newline).
    private var scanFrom = 0

    public init(limit: Int) {
        self.limit = limit
    }

    /// Adds received bytes and returns the complete lines (and at most one overflow, last).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [Event] {
        buffer.append(contentsOf: bytes)
        return drain()
    }

    public mutating func feed(_ bytes: [UInt8]) -> [Event] {
        buffer.append(contentsOf: bytes)
        return drain()
    }

    private mutating func drain() -> [Event] {
        var events: [Event] = []
        var lineStart = 0
        var index = scanFrom
        let count = buffer.count
        while index < count {
            if buffer[index] == 0x0A {
                var end = index
                if end > lineStart && buffer[end - 1] == 0x0D { end -= 1 }
                if end - lineStart > limit {
                    events.append(.overflow)
                    buffer.removeAll()
                    scanFrom = 0
                    return events
                }
                events.append(.line(buffer[lineStart..<end]))
                lineStart = index + 1
            }
            index += 1
        }
        if lineStart > 0 {
            // Copy the lines out before the buffer moves.
            events = events.map { event in
                if case .line(let slice) = event { return .line(ArraySlice(Array(slice))) }
                return event
            }
            buffer.removeFirst(lineStart)
        }
        scanFrom = buffer.count
        if buffer.count > limit {
            events.append(.overflow)
            buffer.removeAll()
            scanFrom = 0
        }
        return events
    }
}
