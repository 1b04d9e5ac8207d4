#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import KVClient
import RaftCore
import Synchronization

/// Closed-loop load: each connection keeps `pipeline` requests outstanding and sends the next
/// as soon as an answer arrives. Answers in the measured window count; latency is from send to
/// answer.
final class LoadGenerator: Sendable {
    struct ConnectionResult: Sendable {
        var latenciesMicros: [UInt32] = []
        var ok = 0
        var errors: [String: Int] = [:]
        var failure: String?
    }

    struct Summary {
        var operations: Int
        var ok: Int
        var errors: [String: Int]
        var seconds: Double
        var latenciesMs: (p50: Double, p90: Double, p99: Double, p999: Double, max: Double)
        var failure: String?
    }

    let options: BenchOptions
    let port: Int
    let results = Mutex<[ConnectionResult]>([])

    init(options: BenchOptions, port: Int) {
        self.options = options
        self.port = port
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

    /// Writes every key once, so gets find values.
    func preload() throws {
        let connection = try ClientConnection(host: options.host, port: port)
        let value = String(repeating: "v", count: options.valueBytes)
        var sent = 0
        while sent < options.keys {
            let batch = min(1000, options.keys - sent)
            var text = ""
            for number in sent..<(sent + batch) {
                text += #"{"op":"put","key":"\#(Self.key(number))","value":"\#(value)"}"# + "\n"
            }
            try connection.send(String(text.dropLast()))
            for _ in 0..<batch { _ = try connection.receiveLine() }
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
        var summary = Summary(operations: 0, ok: 0, errors: [:], seconds: options.durationSeconds,
                              latenciesMs: (0, 0, 0, 0, 0), failure: all.compactMap(\.failure).first)
        for result in all {
            latencies.append(contentsOf: result.latenciesMicros)
            summary.ok += result.ok
            for (code, count) in result.errors { summary.errors[code, default: 0] += count }
        }
        summary.operations = latencies.count
        latencies.sort()
        func at(_ fraction: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            return Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * fraction))]) / 1000
        }
        summary.latenciesMs = (at(0.5), at(0.9), at(0.99), at(0.999), Double(latencies.last ?? 0) / 1000)
        return summary
    }

    private func drive(connectionNumber: Int, measureFrom: UInt64, stopAt: UInt64) -> ConnectionResult {
        var result = ConnectionResult()
        let connection: ClientConnection
        do {
            connection = try ClientConnection(host: options.host, port: port)
        } catch {
            result.failure = "\(error)"
            return result
        }
        var random = SplitMix64(seed: UInt64(connectionNumber) &* 0x9E37_79B9 &+ 17)
        let value = String(repeating: "x", count: options.valueBytes)
        let consistency = options.consistency.map { #","consistency":"\#($0)""# } ?? ""
        func request() -> String {
            let key = Self.key(Int.random(in: 0..<options.keys, using: &random))
            let isGet: Bool
            switch options.workload {
            case .put: isGet = false
            case .get: isGet = true
            case .mixed: isGet = Double.random(in: 0..<1, using: &random) < options.getRatio
            }
            return isGet ? #"{"op":"get","key":"\#(key)"\#(consistency)}"#
                         : #"{"op":"put","key":"\#(key)","value":"\#(value)"}"#
        }
        var sendTimes: [UInt64] = []
        var head = 0
        do {
            for _ in 0..<options.pipeline {
                sendTimes.append(Self.now())
                try connection.send(request())
            }
            while true {
                guard let line = try connection.receiveLine() else {
                    result.errors["conn_closed", default: 0] += 1
                    break
                }
                let received = Self.now()
                let sentAt = sendTimes[head]
                head += 1
                if received >= measureFrom && received < stopAt {
                    result.latenciesMicros.append(UInt32(min(UInt64(UInt32.max), (received - sentAt) / 1000)))
                    if line.contains(#""status":"ok""#) || line.contains(#""code":"not_found""#) {
                        result.ok += 1
                    } else {
                        result.errors[Self.code(in: line), default: 0] += 1
                    }
                }
                if received >= stopAt {
                    if head == sendTimes.count { break }
                    continue  // drain what is outstanding
                }
                if head > 4096 {
                    sendTimes.removeFirst(head)
                    head = 0
                }
                sendTimes.append(Self.now())
                try connection.send(request())
            }
        } catch {
            result.failure = "\(error)"
        }
        return result
    }

    static func code(in line: String) -> String {
        guard let range = line.range(of: #""code":""#) else { return "bad_response" }
        let rest = line[range.upperBound...]
        return String(rest.prefix { $0 != "\"" })
    }
}
