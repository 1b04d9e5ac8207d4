#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import KVClient
import KVWire
import Synchronization

/// `--leases N`: N leases granted before the run and kept alive every second during it (each
/// lease one keepalive a second, over a few connections, many requests outstanding), as N
/// clients holding sessions would; revoked afterwards.
final class LeaseLoad: Sendable {
    struct Report {
        var leases: Int
        var rounds: Int
        var keepalives: Int
        var ok: Int
        var notFound: Int
        var otherErrors: Int
        /// The longest time one round of N keepalives took, in milliseconds.
        var slowestRoundMs: Double
    }

    private struct Tally {
        var rounds = 0
        var keepalives = 0
        var ok = 0
        var notFound = 0
        var otherErrors = 0
        var slowestRound: UInt64 = 0
    }

    let ids: [Int64]
    let ttlMs: Int64
    private let host: String
    private let port: Int
    private let lanes: Int
    private let stopped = Atomic<Bool>(false)
    private let tally = Mutex(Tally())
    private let done = DispatchGroup()

    /// Grants `count` leases of `ttlMs`.
    init(count: Int, ttlMs: Int64, host: String, port: Int, lanes: Int = 4) throws {
        self.ttlMs = ttlMs
        self.host = host
        self.port = port
        self.lanes = max(1, min(lanes, count))
        let line = RequestEncoder.line(ClientRequest(.leaseGrant(ttlMs: ttlMs)))
        let granted = Mutex<(ids: [Int64], failure: String?)>(([], nil))
        let group = DispatchGroup()
        for lane in 0..<self.lanes {
            let share = count / self.lanes + (lane < count % self.lanes ? 1 : 0)
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let connection = try ClientConnection(host: host, port: port)
                    let answers = try Self.pipelined(connection, Array(repeating: line, count: share))
                    let ids = answers.compactMap { answer -> Int64? in
                        guard let range = answer.firstRange(of: #""lease":"#) else { return nil }
                        return Int64(answer[range.upperBound...].prefix { $0.isNumber })
                    }
                    granted.withLock { $0.ids += ids }
                    if ids.count < share { granted.withLock { $0.failure = "\(share - ids.count) grants refused, e.g. \(answers.first { !$0.contains("\"lease\"") } ?? "")" } }
                } catch {
                    granted.withLock { $0.failure = "\(error)" }
                }
            }.start()
        }
        group.wait()
        let outcome = granted.withLock { $0 }
        if let failure = outcome.failure { FileHandleOut.error("KVBench: lease grants: \(failure)\n") }
        guard !outcome.ids.isEmpty else { throw LoadGenerator.Failure(description: "no lease was granted") }
        ids = outcome.ids
    }

    /// Sends `lines` with up to `window` outstanding, written 100 at a time; the answers in order.
    static func pipelined(_ connection: ClientConnection, _ lines: [String], window: Int = 1000) throws -> [String] {
        var answers: [String] = []
        answers.reserveCapacity(lines.count)
        var sent = 0
        while answers.count < lines.count {
            while sent < lines.count && sent - answers.count < window {
                let batch = min(100, lines.count - sent)
                try connection.send(lines[sent..<(sent + batch)].joined(separator: "\n"))
                sent += batch
            }
            guard let answer = try connection.receiveLine() else {
                throw LoadGenerator.Failure(description: "the server closed the connection")
            }
            answers.append(answer)
        }
        return answers
    }

    /// Keeps every lease alive once a second, in a background thread per lane, until `stop`.
    func start() {
        for lane in 0..<lanes {
            let mine = stride(from: lane, to: ids.count, by: lanes).map { ids[$0] }
            let lines = mine.map { RequestEncoder.line(ClientRequest(.leaseKeepAlive($0))) }
            done.enter()
            Thread { [self] in
                defer { done.leave() }
                var connection: ClientConnection?
                while !stopped.load(ordering: .relaxed) {
                    let started = LoadGenerator.now()
                    do {
                        if connection == nil { connection = try ClientConnection(host: host, port: port) }
                        let answers = try Self.pipelined(connection!, lines)
                        let took = LoadGenerator.now() - started
                        let ok = answers.count(where: { $0.contains(#""status":"ok""#) })
                        let notFound = answers.count(where: { $0.contains(#""code":"not_found""#) })
                        tally.withLock {
                            $0.rounds += lane == 0 ? 1 : 0
                            $0.keepalives += answers.count
                            $0.ok += ok
                            $0.notFound += notFound
                            $0.otherErrors += answers.count - ok - notFound
                            $0.slowestRound = max($0.slowestRound, took)
                        }
                    } catch {
                        connection = nil
                    }
                    // The next round a second after this one began.
                    while !stopped.load(ordering: .relaxed) && LoadGenerator.now() < started + 1_000_000_000 { usleep(10_000) }
                }
            }.start()
        }
    }

    func stop() -> Report {
        stopped.store(true, ordering: .relaxed)
        done.wait()
        let total = tally.withLock { $0 }
        return Report(leases: ids.count, rounds: total.rounds, keepalives: total.keepalives, ok: total.ok, notFound: total.notFound,
                      otherErrors: total.otherErrors, slowestRoundMs: Double(total.slowestRound) / 1e6)
    }

    /// Revokes every lease (after the run, so the next run does not pay for their expiry).
    func revokeAll() {
        let group = DispatchGroup()
        for lane in 0..<lanes {
            let lines = stride(from: lane, to: ids.count, by: lanes).map { RequestEncoder.line(ClientRequest(.leaseRevoke(ids[$0]))) }
            group.enter()
            Thread { [host, port] in
                defer { group.leave() }
                guard let connection = try? ClientConnection(host: host, port: port) else { return }
                _ = try? Self.pipelined(connection, lines)
            }.start()
        }
        group.wait()
    }
}
