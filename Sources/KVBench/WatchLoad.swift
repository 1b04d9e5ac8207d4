#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import KVClient
import KVWire
import Synchronization

/// When each put was acknowledged, by the put's number: with watchers, every put's value starts
/// with its number (`123456:xxx…`, still `--value-bytes` long), so a watcher that receives the
/// event can tell how long after the put's answer it came.
///
/// @unchecked Sendable: one slot per put, written once by the thread that got the answer and
/// read by watcher threads; a slot read before it is written reads 0 (the event came first).
final class AckTimes: @unchecked Sendable {
    let capacity: Int
    private let times: UnsafeMutablePointer<UInt64>
    private let next = Atomic<Int>(0)

    init(capacity: Int) {
        self.capacity = capacity
        times = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        times.initialize(repeating: 0, count: capacity)
    }

    deinit { times.deallocate() }

    /// A value of `bytes` bytes that starts with a fresh number (no number when the table is full).
    func value(bytes: Int) -> String {
        let number = next.add(1, ordering: .relaxed).oldValue
        guard number < capacity else { return String(repeating: "x", count: bytes) }
        let head = "\(number):"
        return head + String(repeating: "x", count: max(0, bytes - head.utf8.count))
    }

    /// The put with this value was answered at `time`.
    func acknowledged(_ value: String, at time: UInt64) {
        var number = 0
        var digits = 0
        for byte in value.utf8 {
            guard byte >= 0x30 && byte <= 0x39 else { break }
            number = number * 10 + Int(byte - 0x30)
            digits += 1
        }
        if digits > 0 && number < capacity { times[number] = time }
    }

    /// When put `number` was answered (0: not yet).
    func time(_ number: Int) -> UInt64 {
        number >= 0 && number < capacity ? times[number] : 0
    }
}

/// `--watchers N`: N watches on one prefix, spread over `--watch-connections` connections and
/// read by a few threads (poll), counting events and how long after the put's answer each came.
final class WatchLoad: Sendable {
    struct Report {
        var watches: Int
        var connections: Int
        var events: Int
        /// Events that came before their put's answer (counted as 0 ms).
        var beforeAnswer: Int
        var slowCuts: Int
        var latencyMs: (p50: Double, p99: Double, p999: Double, max: Double)
    }

    /// Latency buckets of 10 µs, up to 10 s; beyond, the last bucket.
    static let bucketMicros = 10
    static let buckets = 1_000_000

    private struct Tally {
        var events = 0
        var beforeAnswer = 0
        var slowCuts = 0
        var histogram = [UInt32](repeating: 0, count: WatchLoad.buckets)
        var maxMicros: UInt64 = 0
    }

    private let stopped = Atomic<Bool>(false)
    private let tallies = Mutex<[Tally]>([])
    private let done = DispatchGroup()
    let watches: Int
    let connectionCount: Int
    /// Events count when received inside [from, to) (monotonic ns), set when the load starts.
    private let window = Mutex<(from: UInt64, to: UInt64)>((0, UInt64.max))

    /// Opens the connections, starts every watch and waits for their answers.
    init(watches: Int, connections: Int, prefix: String, host: String, port: Int, threads: Int, acks: AckTimes) throws {
        self.watches = watches
        self.connectionCount = max(1, min(connections, watches))
        var opened: [ClientConnection] = []
        for number in 0..<connectionCount {
            let connection = try ClientConnection(host: host, port: port)
            // Watches number, connection by connection: connection c has watches c, c+C, c+2C, …
            let names = stride(from: number, to: watches, by: connectionCount)
            var lines: [String] = []
            for name in names {
                lines.append(RequestEncoder.line(ClientRequest(.watch(WatchRequest(name: .int(name), prefix: prefix)))))
            }
            try connection.send(lines.joined(separator: "\n"))
            for _ in names {
                guard let answer = try connection.receiveLine(), answer.contains(#""status":"ok""#) else {
                    throw LoadGenerator.Failure(description: "a watch was refused")
                }
            }
            opened.append(connection)
        }
        let threadCount = max(1, min(threads, opened.count))
        for thread in 0..<threadCount {
            let mine = stride(from: thread, to: opened.count, by: threadCount).map { opened[$0] }
            done.enter()
            let reader = Thread { [self] in
                let tally = read(mine, acks: acks)
                tallies.withLock { $0.append(tally) }
                done.leave()
            }
            reader.stackSize = 1 << 20
            reader.start()
        }
    }

    func measure(from: UInt64, to: UInt64) {
        window.withLock { $0 = (from, to) }
    }

    func stop() -> Report {
        stopped.store(true, ordering: .relaxed)
        done.wait()
        var total = Tally()
        for tally in tallies.withLock({ $0 }) {
            total.events += tally.events
            total.beforeAnswer += tally.beforeAnswer
            total.slowCuts += tally.slowCuts
            total.maxMicros = max(total.maxMicros, tally.maxMicros)
            for index in 0..<Self.buckets where tally.histogram[index] > 0 { total.histogram[index] += tally.histogram[index] }
        }
        func at(_ fraction: Double) -> Double {
            let wanted = Int((Double(total.events) * fraction).rounded(.up))
            var seen = 0
            for index in 0..<Self.buckets {
                seen += Int(total.histogram[index])
                if seen >= max(1, wanted) { return Double((index + 1) * Self.bucketMicros) / 1000 }
            }
            return 0
        }
        return Report(watches: watches, connections: connectionCount, events: total.events, beforeAnswer: total.beforeAnswer,
                      slowCuts: total.slowCuts, latencyMs: (at(0.5), at(0.99), at(0.999), Double(total.maxMicros) / 1000))
    }

    /// One reader thread: polls its connections, and reads every line each has.
    private func read(_ connections: [ClientConnection], acks: AckTimes) -> Tally {
        var tally = Tally()
        var descriptors = connections.map { pollfd(fd: $0.socketDescriptor, events: Int16(POLLIN), revents: 0) }
        while !stopped.load(ordering: .relaxed) {
            let ready = poll(&descriptors, nfds_t(descriptors.count), 100)
            guard ready > 0 else { continue }
            let (from, to) = window.withLock { $0 }
            for index in descriptors.indices where descriptors[index].revents != 0 {
                let connection = connections[index]
                repeat {
                    let received: Bool?
                    do {
                        received = try connection.withNextLine { line throws(ClientConnection.Failure) -> Bool in
                            let now = LoadGenerator.now()
                            Self.count(line, at: now, measured: now >= from && now < to, acks: acks, into: &tally)
                            return true
                        }
                    } catch {
                        received = nil
                    }
                    if received == nil {
                        descriptors[index].fd = -1  // closed: poll skips it
                        break
                    }
                } while connection.hasBufferedLine
            }
        }
        return tally
    }

    /// Counts a line's events: each `"value":"N:` names put N, whose answer time gives the latency.
    private static func count(_ line: UnsafeBufferPointer<UInt8>, at now: UInt64, measured: Bool, acks: AckTimes, into tally: inout Tally) {
        guard let base = line.baseAddress else { return }
        if find(#""events""#, in: base, line.count) == nil {
            if find("watch_cancelled", in: base, line.count) != nil { tally.slowCuts += 1 }
            return
        }
        var offset = 0
        while let hit = find(#""value":""#, in: base + offset, line.count - offset) {
            var index = offset + hit + 9
            var number = 0
            var digits = 0
            while index < line.count, line[index] >= 0x30, line[index] <= 0x39 {
                number = number * 10 + Int(line[index] - 0x30)
                digits += 1
                index += 1
            }
            offset = index
            guard measured, digits > 0 else { continue }
            tally.events += 1
            let acknowledged = acks.time(number)
            let micros: UInt64
            if acknowledged == 0 || acknowledged >= now {
                tally.beforeAnswer += 1
                micros = 0
            } else {
                micros = (now - acknowledged) / 1000
            }
            tally.maxMicros = max(tally.maxMicros, micros)
            tally.histogram[min(buckets - 1, Int(micros) / bucketMicros)] += 1
        }
    }

    /// Where `text` first occurs in the `count` bytes at `base`.
    private static func find(_ text: StaticString, in base: UnsafePointer<UInt8>, _ count: Int) -> Int? {
        let length = text.utf8CodeUnitCount
        let first = Int32(text.utf8Start.pointee)
        var offset = 0
        while count - offset >= length {
            guard let hit = memchr(base + offset, first, count - offset - length + 1) else { return nil }
            let at = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
            if memcmp(base + at, text.utf8Start, length) == 0 { return at }
            offset = at + 1
        }
        return nil
    }
}
