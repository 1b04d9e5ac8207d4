#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import JSONText
import ClientShell
import KVClient
import KVWire
import LinCheck
import RaftCore
import Synchronization

/// Closed-loop load: each connection keeps `pipeline` requests outstanding and sends the next as
/// soon as an answer arrives. Answers in the measured window count; latency is from send to
/// answer. In check mode every operation, its times and its answer are recorded for the
/// linearizability checker.
final class LoadGenerator: Sendable {
    struct ConnectionResult: Sendable {
        var latenciesMicros: [UInt32] = []
        var ok = 0
        var errors: [String: Int] = [:]
        var failure: String?
        var history: [KVOperation] = []
        /// Writes answered `timeout` and sent again with the same client and seq.
        var retries = 0
        /// Transactions whose compare did not hold (the counter had moved).
        var txnRefused = 0
    }

    struct Summary {
        var operations: Int
        var ok: Int
        var errors: [String: Int]
        var seconds: Double
        var latenciesMs: (p50: Double, p90: Double, p99: Double, p999: Double, max: Double)
        var histogram: [(upToMs: Double, count: Int)]
        var failure: String?
        var history: [KVOperation]
        var retries = 0
        var txnRefused = 0
    }

    let options: BenchOptions
    let results = Mutex<[ConnectionResult]>([])
    /// With watchers: puts carry their number in their value, and their answers' times are kept.
    let ackTimes: AckTimes?

    init(options: BenchOptions, ackTimes: AckTimes? = nil) {
        self.options = options
        self.ackTimes = ackTimes
    }

    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    static func key(_ number: Int) -> String {
        let digits = String(number)
        return "k" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }

    func connect(_ number: Int) throws -> BenchConnection {
        let target = options.targets[number % options.targets.count]
        if options.http { return try HTTPBenchConnection(host: target.host, port: target.port) }
        return try LineBenchConnection(host: target.host, port: target.port)
    }

    /// Writes every key once, so gets and ranges find values. Over the line protocol several
    /// connections each keep a window of requests outstanding, sent in batches of many lines per
    /// write (for the range workload, each a transaction of 100 puts); a request refused on the
    /// way (an election under load) is sent again.
    func preload() throws {
        let value = String(repeating: "v", count: options.valueBytes)
        guard !options.http else {
            let connection = try connect(0)
            var sent = 0
            while sent < options.keys {
                let batch = min(500, options.keys - sent)
                for number in sent..<(sent + batch) { try connection.send(.put(key: Self.key(number), value: value), session: nil) }
                for _ in 0..<batch { _ = try connection.receive() }
                sent += batch
            }
            return
        }
        let lanes = max(1, min(4, options.connections, options.keys / 1000))
        // The range workload needs a server with transactions: 100 puts go in one (one log
        // entry), which loads a million keys many times faster. Get and mixed stay with plain
        // puts, so that they can measure a server from before transactions too.
        let putsPerRequest = options.workload == .range ? 100 : 1
        let failures = Mutex<(error: String?, refused: [Int])>((nil, []))
        let started = Self.now()
        var pending = Array(0..<options.keys)
        var passes = 0
        // Puts refused (a leader change under load, a timeout) are sent again: a put twice is the same put.
        while !pending.isEmpty && passes < 5 {
            passes += 1
            let group = DispatchGroup()
            for lane in 0..<lanes {
                group.enter()
                let keys = stride(from: lane, to: pending.count, by: lanes).map { pending[$0] }
                let thread = Thread { [self] in
                    defer { group.leave() }
                    do {
                        let refused = try preload(keys, lane: lane, value: value, putsPerRequest: putsPerRequest)
                        failures.withLock { $0.refused += refused }
                    } catch {
                        failures.withLock { $0.error = "\(error)" }
                    }
                }
                thread.start()
            }
            group.wait()
            let outcome = failures.withLock { state in
                defer { state.refused = [] }
                return state
            }
            if let error = outcome.error { throw Failure(description: error) }
            pending = outcome.refused.sorted()
        }
        let seconds = Double(Self.now() - started) / 1e9
        FileHandleOut.error("KVBench: preloaded \(options.keys - pending.count) keys in \(String(format: "%.1f", seconds)) s"
                            + " (\(Int(Double(options.keys) / max(seconds, 1e-9))) keys/s)"
                            + (passes > 1 ? ", in \(passes) passes (refused puts sent again)" : "")
                            + (pending.isEmpty ? "" : "; \(pending.count) keys still refused") + "\n")
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Puts `keys` on one connection: up to 1,000 puts outstanding, written 100 at a time. With
    /// `putsPerRequest` > 1 each request is a transaction of that many puts (one log entry
    /// instead of one per key). Returns the keys whose request was not answered ok.
    private func preload(_ keys: [Int], lane: Int, value: String, putsPerRequest: Int) throws -> [Int] {
        let target = options.targets[lane % options.targets.count]
        let connection = try ClientConnection(host: target.host, port: target.port)
        // About 1,000 puts outstanding either way: a window of transactions holds as many puts as
        // a window of single puts (a thousand 13 KB transactions in flight only time out).
        let window = max(4, 1000 / putsPerRequest), batch = max(2, 100 / putsPerRequest)
        // Requests: ranges of `keys`, one key or `putsPerRequest` keys each.
        let requests = stride(from: 0, to: keys.count, by: putsPerRequest).map { $0..<min(keys.count, $0 + putsPerRequest) }
        var sent = 0, received = 0
        var refused: [Int] = []
        while received < requests.count {
            while sent < requests.count && sent - received + batch <= window {
                let count = min(batch, requests.count - sent)
                var lines: [String] = []
                lines.reserveCapacity(count)
                for request in requests[sent..<(sent + count)] {
                    if putsPerRequest == 1 {
                        lines.append(RequestEncoder.line(.put(key: Self.key(keys[request.lowerBound]), value: value)))
                    } else {
                        let puts = request.map { Transaction.Step.put(key: Self.key(keys[$0]), value: value, lease: nil) }
                        lines.append(RequestEncoder.line(ClientRequest(.txn(Transaction(compare: [], success: puts, failure: [])))))
                    }
                }
                try connection.send(lines.joined(separator: "\n"))
                sent += count
            }
            guard let answer = try connection.receiveLine() else { throw Failure(description: "the server closed the connection while preloading") }
            if !AnswerLine.isOK(answer) { refused += requests[received].map { keys[$0] } }
            received += 1
        }
        return refused
    }

    func run() -> Summary {
        let start = Self.now()
        let measureFrom = start + UInt64(options.warmupSeconds * 1e9)
        let stopAt = measureFrom + UInt64(options.durationSeconds * 1e9)
        let group = DispatchGroup()
        for number in 0..<options.connections {
            group.enter()
            let thread = Thread { [self] in
                let result = self.drive(connectionNumber: number, measureFrom: measureFrom, stopAt: stopAt)
                self.results.withLock { $0.append(result) }
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        let all = results.withLock { $0 }
        var latencies: [UInt32] = []
        var summary = Summary(operations: 0, ok: 0, errors: [:], seconds: options.durationSeconds, latenciesMs: (0, 0, 0, 0, 0),
                              histogram: [], failure: all.compactMap(\.failure).first, history: [])
        for result in all {
            latencies.append(contentsOf: result.latenciesMicros)
            summary.ok += result.ok
            for (code, count) in result.errors { summary.errors[code, default: 0] += count }
            summary.history.append(contentsOf: result.history)
            summary.retries += result.retries
            summary.txnRefused += result.txnRefused
        }
        summary.operations = latencies.count
        latencies.sort()
        func at(_ fraction: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            return Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * fraction))]) / 1000
        }
        summary.latenciesMs = (at(0.5), at(0.9), at(0.99), at(0.999), Double(latencies.last ?? 0) / 1000)
        summary.histogram = Self.histogram(latencies)
        return summary
    }

    /// Counts per latency bucket: powers of two from 0.25 ms.
    static func histogram(_ sorted: [UInt32]) -> [(upToMs: Double, count: Int)] {
        var buckets: [(upToMs: Double, count: Int)] = []
        var bound = 250.0
        var index = 0
        while index < sorted.count {
            var count = 0
            while index < sorted.count && Double(sorted[index]) <= bound {
                count += 1
                index += 1
            }
            buckets.append((bound / 1000, count))
            bound *= 2
        }
        return buckets
    }

    /// A request sent and not yet answered: its pipeline slot, and the session it carries
    /// (sent again unchanged when answered `timeout`).
    struct Pending {
        var request: BenchRequest
        var sentAt: UInt64
        var slot: Int
        var session: ClientSession?
        var attempts = 0
    }

    /// A counter of the txn workload: its key, the value last written and its modRevision.
    struct Counter {
        var key: String
        var value = 0
        var revision: Int64 = 0
    }

    private func drive(connectionNumber: Int, measureFrom: UInt64, stopAt: UInt64) -> ConnectionResult {
        var result = ConnectionResult()
        let connection: BenchConnection
        do {
            connection = try connect(connectionNumber)
        } catch {
            result.failure = "\(error)"
            return result
        }
        var random = SplitMix64(seed: UInt64(connectionNumber) &* 0x9E37_79B9 &+ 17)
        let value = String(repeating: "x", count: options.valueBytes)
        let linearizable = options.consistency == "linearizable"
        var written = 0
        // Sessions: one per pipeline slot, so that a retried write is never behind a later seq of its client.
        let sessions = options.usesSessions
        let clients = (0..<options.pipeline).map { "bench-\(getpid())-\(connectionNumber)-\($0)" }
        var seqs = [Int64](repeating: 0, count: options.pipeline)
        var counters = (0..<options.pipeline).map { Counter(key: "counter-\(connectionNumber)-\($0)") }
        func request(slot: Int) -> BenchRequest {
            if options.workload == .txn {
                let counter = counters[slot]
                return .increment(counter: counter.key, expectRevision: counter.revision, value: counter.value + 1)
            }
            let key = Self.key(Int.random(in: 0..<options.keys, using: &random))
            let value = ackTimes?.value(bytes: options.valueBytes) ?? value
            switch options.workload {
            case .put: return .put(key: key, value: value)
            case .get: return .get(key: key, linearizable: linearizable)
            case .range: return .range(from: key, limit: options.rangeLimit, linearizable: linearizable)
            case .txn: return .get(key: key, linearizable: linearizable)  // built above
            case .mixed:
                return Double.random(in: 0..<1, using: &random) < options.getRatio
                    ? .get(key: key, linearizable: linearizable) : .put(key: key, value: value)
            case .check:
                // Distinct values, so that every answer tells which write it saw.
                written += 1
                let fresh = "c\(connectionNumber)-\(written)"
                switch Int.random(in: 0..<20, using: &random) {
                case 0..<8: return .get(key: key, linearizable: true)
                case 8..<14: return .put(key: key, value: fresh)
                case 14..<17: return .cas(key: key, expect: Bool.random(using: &random) ? nil : "c\(Int.random(in: 0..<options.connections, using: &random))-\(max(1, written - Int.random(in: 0...3, using: &random)))", value: fresh)
                default: return .delete(key: key)
                }
            }
        }
        var outstanding: [Pending] = []
        var head = 0
        func sendNew(slot: Int) throws {
            let next = request(slot: slot)
            var session: ClientSession?
            if sessions && next.isWrite {
                seqs[slot] += 1
                session = ClientSession(client: clients[slot], seq: seqs[slot])
            }
            outstanding.append(Pending(request: next, sentAt: Self.now(), slot: slot, session: session))
            try connection.send(next, session: session)
        }
        func record(_ item: Pending, answer: String?, at time: UInt64) {
            guard options.check, let outcome = CheckRun.outcome(of: answer) else { return }
            result.history.append(KVOperation(id: connectionNumber << 40 | result.history.count, client: connectionNumber,
                                            key: item.request.key, kind: Self.kind(of: item.request),
                                            call: item.sentAt, response: answer == nil ? nil : time, outcome: outcome))
        }
        do {
            for slot in 0..<options.pipeline { try sendNew(slot: slot) }
            while true {
                guard let line = try connection.receive() else {
                    result.errors["conn_closed", default: 0] += 1
                    break
                }
                let received = Self.now()
                var item = outstanding[head]
                head += 1
                let measured = received >= measureFrom && received < stopAt
                // A write whose outcome is unknown goes again with the same client and seq: applied once.
                if item.session != nil, item.attempts < options.maxRetries, AnswerLine.code(line) == ErrorCode.timeout.rawValue {
                    if measured { result.retries += 1 }
                    item.attempts += 1
                    outstanding.append(item)
                    try connection.send(item.request, session: item.session)
                    continue
                }
                if let ackTimes, case .put(_, let value) = item.request { ackTimes.acknowledged(value, at: received) }
                if case .increment = item.request {
                    let succeeded = Self.advance(&counters[item.slot], answer: line)
                    if measured && succeeded == false { result.txnRefused += 1 }
                }
                record(item, answer: line, at: received)
                if measured {
                    result.latenciesMicros.append(UInt32(min(UInt64(UInt32.max), (received - item.sentAt) / 1000)))
                    if line.contains(#""status":"ok""#) || line.contains(#""code":"not_found""#) || line.contains(#""code":"cas_failed""#) {
                        result.ok += 1
                    } else {
                        result.errors[Self.code(in: line), default: 0] += 1
                    }
                }
                if received >= stopAt {
                    if head == outstanding.count { break }
                    continue  // drain what is outstanding
                }
                if head > 4096 {
                    outstanding.removeFirst(head)
                    head = 0
                }
                try sendNew(slot: item.slot)
            }
        } catch {
            result.failure = "\(error)"
        }
        // Requests never answered: their fate is unknown.
        while head < outstanding.count {
            record(outstanding[head], answer: nil, at: 0)
            head += 1
        }
        return result
    }

    /// Learns from a txn answer where the counter stands: the value written and the store's
    /// revision when the compare held; the counter as read (its value and modRevision) when it
    /// did not. Returns whether the compare held (nil: not a txn answer).
    static func advance(_ counter: inout Counter, answer: String) -> Bool? {
        guard let object = try? JSONParser.parse(answer).objectValue, let succeeded = object["succeeded"]?.boolValue else { return nil }
        if succeeded {
            counter.value += 1
            counter.revision = Int64(object["revision"]?.intValue ?? 0)
        } else if let read = object["results"]?.arrayValue?.first?.objectValue {
            counter.value = read["value"]?.stringValue.flatMap { Int($0) } ?? 0
            counter.revision = Int64(read["modRevision"]?.intValue ?? 0)
        }
        return succeeded
    }

    /// What the checker models an operation as (only the check workload's are recorded).
    static func kind(of request: BenchRequest) -> KVOperation.Kind {
        switch request {
        case .put(_, let value): return .put(value)
        case .get, .range: return .get
        case .delete: return .delete
        case .cas(_, let expect, let value): return .cas(expect: expect, value: value)
        case .increment(_, _, let value): return .put(String(value))
        }
    }

    static func code(in line: String) -> String {
        guard let range = line.firstRange(of: #""code":""#) else { return "bad_response" }
        let rest = line[range.upperBound...]
        return String(rest.prefix { $0 != "\"" })
    }
}
