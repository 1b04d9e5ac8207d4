#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import JSONText
import KVClient
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
    }

    let options: BenchOptions
    let results = Mutex<[ConnectionResult]>([])

    init(options: BenchOptions) {
        self.options = options
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

    /// Writes every key once, so gets find values.
    func preload() throws {
        let connection = try connect(0)
        let value = String(repeating: "v", count: options.valueBytes)
        var sent = 0
        while sent < options.keys {
            let batch = min(500, options.keys - sent)
            for number in sent..<(sent + batch) { try connection.send(.put(key: Self.key(number), value: value)) }
            for _ in 0..<batch { _ = try connection.receive() }
            sent += batch
        }
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
        func request() -> BenchRequest {
            let key = Self.key(Int.random(in: 0..<options.keys, using: &random))
            switch options.workload {
            case .put: return .put(key: key, value: value)
            case .get: return .get(key: key, linearizable: linearizable)
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
        var outstanding: [(request: BenchRequest, sentAt: UInt64)] = []
        var head = 0
        func record(_ item: (request: BenchRequest, sentAt: UInt64), answer: String?, at time: UInt64) {
            guard options.check, let outcome = CheckRun.outcome(of: answer) else { return }
            result.history.append(KVOperation(id: connectionNumber << 40 | result.history.count, client: connectionNumber,
                                            key: item.request.key, kind: Self.kind(of: item.request),
                                            call: item.sentAt, response: answer == nil ? nil : time, outcome: outcome))
        }
        do {
            for _ in 0..<options.pipeline {
                let next = request()
                outstanding.append((next, Self.now()))
                try connection.send(next)
            }
            while true {
                guard let line = try connection.receive() else {
                    result.errors["conn_closed", default: 0] += 1
                    break
                }
                let received = Self.now()
                let item = outstanding[head]
                head += 1
                record(item, answer: line, at: received)
                if received >= measureFrom && received < stopAt {
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
                let next = request()
                outstanding.append((next, Self.now()))
                try connection.send(next)
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

    static func kind(of request: BenchRequest) -> KVOperation.Kind {
        switch request {
        case .put(_, let value): return .put(value)
        case .get: return .get
        case .delete: return .delete
        case .cas(_, let expect, let value): return .cas(expect: expect, value: value)
        }
    }

    static func code(in line: String) -> String {
        guard let range = line.firstRange(of: #""code":""#) else { return "bad_response" }
        let rest = line[range.upperBound...]
        return String(rest.prefix { $0 != "\"" })
    }
}
