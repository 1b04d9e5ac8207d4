#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Holds a dispatch source inside lock-protected state. Dispatch sources are thread-safe
/// objects; the box only tells the compiler so.
public final class DispatchSourceBox: @unchecked Sendable {
    public let source: any DispatchSourceProtocol

    public init(_ source: any DispatchSourceProtocol) {
        self.source = source
    }
}

/// Sleeps the calling thread (shutdown loops only; never a stand-in for synchronisation).
public func usleepMilliseconds(_ milliseconds: Int) {
    usleep(UInt32(milliseconds * 1000))
}
