import LinCheck
import RaftCore

/// `--checker-benchmark N`: the checker's speed on its own. A made-up history of N operations —
/// clients issuing puts, gets, CAS and deletes back to back on a correct register per key, each
/// taking effect at a random instant inside its interval — is checked, and the time printed.
enum CheckerBenchmark {
    static func run(operations count: Int, keys: Int, clients: Int, timeLimitSeconds: Double) -> Int32 {
        let history = makeHistory(operations: count, keys: keys, clients: clients, seed: 2026)
        let result = LinearizabilityChecker.check(history, timeLimitSeconds: timeLimitSeconds, clock: LoadGenerator.now)
        let verdict: String
        switch result.verdict {
        case .linearizable: verdict = "linearizable"
        case .violation: verdict = "NOT linearizable (a bug: the history was made linearizable)"
        case .unknown(let reason): verdict = "unknown: \(reason)"
        }
        print("checker: \(verdict): \(result.operations) operations on \(result.keys) keys from \(clients) clients, checked in \(String(format3(result.seconds))) s")
        if case .linearizable = result.verdict { return 0 }
        return 3
    }

    static func format3(_ seconds: Double) -> String {
        let thousandths = Int((seconds * 1000).rounded())
        let fraction = String(thousandths % 1000)
        return "\(thousandths / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }

    static func makeHistory(operations count: Int, keys: Int, clients: Int, seed: UInt64) -> [KVOperation] {
        var random = SplitMix64(seed: seed)
        // Each client works back to back; times in microseconds.
        var clock = [UInt64](repeating: 0, count: clients)
        var planned: [(operation: KVOperation, point: UInt64)] = []
        planned.reserveCapacity(count)
        for number in 0..<count {
            let client = Int.random(in: 0..<clients, using: &random)
            let call = clock[client] + UInt64.random(in: 1...50, using: &random)
            let response = call + UInt64.random(in: 100...2_000, using: &random)
            clock[client] = response
            let point = UInt64.random(in: call...response, using: &random)
            let key = "k\(Int.random(in: 0..<keys, using: &random))"
            let value = "v\(number)"
            let kind: KVOperation.Kind
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<4: kind = .get
            case 4..<7: kind = .put(value)
            case 7..<9: kind = .cas(expect: nil, value: value)  // expectation filled in below
            default: kind = .delete
            }
            planned.append((KVOperation(id: number, client: client, key: key, kind: kind, call: call * 1000,
                                        response: response * 1000, outcome: .ok(nil)), point))
        }
        var state: [String: String] = [:]
        var order = Array(planned.indices)
        order.sort { planned[$0].point != planned[$1].point ? planned[$0].point < planned[$1].point : $0 < $1 }
        for index in order {
            var operation = planned[index].operation
            let current = state[operation.key]
            switch operation.kind {
            case .get: operation.outcome = .ok(current)
            case .put(let value): state[operation.key] = value
            case .delete: state[operation.key] = nil
            case .cas(_, let value):
                // Half the CAS expect what is there (and win), half something else (and lose).
                if Bool.random(using: &random) {
                    operation.kind = .cas(expect: current, value: value)
                    state[operation.key] = value
                } else {
                    operation.kind = .cas(expect: "nothing-\(index)", value: value)
                    operation.outcome = .casFailed(current: current)
                }
            case .append, .casRevision:
                break  // not drawn here
            }
            planned[index].operation = operation
        }
        return planned.map(\.operation)
    }
}
