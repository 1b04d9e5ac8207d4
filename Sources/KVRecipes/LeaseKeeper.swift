#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import JSONText
import KVWire
import Synchronization
import KVClient

/// Keeps a lease alive in the background: a keepalive every third of its TTL, on a connection
/// of its own (opened again to the same address when it drops). The lease counts as lost when
/// the server says it no longer knows it, or when no keepalive was answered for a whole TTL
/// (then it may have expired, and whatever it held may have passed to someone else).
public final class LeaseKeeper: Sendable {
    public let host: String
    public let port: Int
    public let lease: Int64
    public let ttlMs: Int64

    private struct State {
        var stopped = false
        var lost: String?
        var keepalives = 0
    }

    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)

    public init(host: String, port: Int, lease: Int64, ttlMs: Int64) {
        self.host = host
        self.port = port
        self.lease = lease
        self.ttlMs = ttlMs
    }

    /// Why the lease is lost, once it is (nil while it is kept).
    public var lost: String? { state.withLock { $0.lost } }

    /// Keepalives answered so far.
    public var keepalives: Int { state.withLock { $0.keepalives } }

    public func start() {
        DispatchQueue(label: "raftkv.lease-keeper.\(lease)").async { [self] in
            keepAlive()
            done.signal()
        }
    }

    /// Stops the keepalives (the lease then expires by itself unless revoked) and waits for the
    /// background loop to end.
    public func stop() {
        let running = state.withLock { state -> Bool in
            defer { state.stopped = true }
            return !state.stopped
        }
        if running { done.wait() }
    }

    private func keepAlive() {
        let period = max(100, ttlMs / 3)
        let line = RequestEncoder.line(ClientRequest(.leaseKeepAlive(lease)))
        var connection: ClientConnection?
        var lastAnswered = WatchStream.seconds()
        while !state.withLock({ $0.stopped }) {
            var pauseMs = period
            do {
                if connection == nil { connection = try ClientConnection(host: host, port: port) }
                if let answer = try connection?.request(line), let object = try? JSONParser.parse(answer).objectValue {
                    if object["status"]?.stringValue == "ok" {
                        lastAnswered = WatchStream.seconds()
                        state.withLock { $0.keepalives += 1 }
                    } else if object["code"]?.stringValue == ErrorCode.notFound.rawValue {
                        state.withLock { $0.lost = "lease \(lease) expired: the server no longer knows it" }
                        return
                    } else {
                        if object["close"] != nil { connection = nil }
                        pauseMs = min(period, 100)
                    }
                } else {
                    connection = nil
                    pauseMs = min(period, 100)
                }
            } catch {
                connection = nil
                pauseMs = min(period, 100)
            }
            if WatchStream.seconds() - lastAnswered > Double(ttlMs) / 1000 {
                state.withLock {
                    $0.lost = "no keepalive of lease \(lease) was answered for \(Durations.text(milliseconds: ttlMs)) (its TTL): it may have expired"
                }
                return
            }
            var slept: Int64 = 0
            while slept < pauseMs && !state.withLock({ $0.stopped }) {
                usleep(UInt32(min(50, pauseMs - slept) * 1000))
                slept += 50
            }
        }
    }
}
