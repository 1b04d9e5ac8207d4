#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import JSONText
import LinCheck
import Synchronization
import KVClient

/// `check SECONDS`: for a while, a few connections of this client write, read (linearizably),
/// compare-and-set and delete a handful of keys as fast as answers come; every operation is
/// recorded with its times and answer, and the history is then checked for linearizability.
public struct CheckRun: Sendable {
    public var host: String
    public var port: Int
    public var seconds: Double
    public var clients: Int
    public var keys: Int

    public init(host: String, port: Int, seconds: Double, clients: Int = 4, keys: Int = 5) {
        self.host = host
        self.port = port
        self.seconds = seconds
        self.clients = clients
        self.keys = keys
    }

    public struct Outcome: Sendable {
        public var operations: Int
        public var result: LinearizabilityChecker.Result
        /// The text to print (verdict, and a timeline when not linearizable).
        public var report: String
        /// The HTML timeline, when not linearizable.
        public var html: String?
    }

    public func run() -> Outcome {
        let history = Mutex<[KVOperation]>([])
        let stopAt = Self.now() + UInt64(seconds * 1e9)
        let group = DispatchGroup()
        for client in 0..<clients {
            group.enter()
            DispatchQueue.global().async {
                let recorded = self.drive(client: client, until: stopAt)
                history.withLock { $0.append(contentsOf: recorded) }
                group.leave()
            }
        }
        group.wait()
        let operations = history.withLock { $0 }
        let result = LinearizabilityChecker.check(operations, timeLimitSeconds: 30, clock: Self.now)
        let timing = "\(result.operations) operations on \(result.keys) keys, checked in \(Self.format(result.seconds)) s"
        switch result.verdict {
        case .linearizable:
            return Outcome(operations: operations.count, result: result, report: "linearizable (\(timing))", html: nil)
        case .violation(let key, let minimal):
            return Outcome(operations: operations.count, result: result,
                           report: "NOT linearizable (\(timing))\n" + Timeline.text(key: key, operations: minimal),
                           html: Timeline.html(key: key, operations: minimal))
        case .unknown(let reason):
            return Outcome(operations: operations.count, result: result, report: "unknown: \(reason)", html: nil)
        }
    }

    private func drive(client: Int, until stopAt: UInt64) -> [KVOperation] {
        guard let connection = try? ClientConnection(host: host, port: port) else { return [] }
        var recorded: [KVOperation] = []
        var number = 0
        var seed = UInt64(client) &* 0x9E37_79B9_7F4A_7C15 &+ Self.now()
        func random(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(bound))
        }
        var lastWritten: String?
        while Self.now() < stopAt {
            number += 1
            let key = "check-\(random(keys))"
            let fresh = "v\(client)-\(number)"
            var object = JSONObjectWriter()
            let kind: KVOperation.Kind
            switch random(10) {
            case 0..<4:
                kind = .get
                object.member("op", string: "get")
                object.member("key", string: key)
                object.member("consistency", string: "linearizable")
            case 4..<7:
                kind = .put(fresh)
                object.member("op", string: "put")
                object.member("key", string: key)
                object.member("value", string: fresh)
            case 7..<9:
                let expect = random(2) == 0 ? nil : lastWritten
                kind = .cas(expect: expect, value: fresh)
                object.member("op", string: "cas")
                object.member("key", string: key)
                object.member("expect", string: expect)
                object.member("value", string: fresh)
            default:
                kind = .delete
                object.member("op", string: "delete")
                object.member("key", string: key)
            }
            let call = Self.now()
            let answer = try? connection.request(object.finished())
            let response = Self.now()
            if case .put(let value) = kind { lastWritten = value }
            guard let outcome = Self.outcome(of: answer) else { continue }
            recorded.append(KVOperation(id: client << 32 | number, client: client, key: key, kind: kind, call: call,
                                        response: response, outcome: outcome))
            if answer == nil { break }  // the connection is gone
        }
        return recorded
    }

    /// What an answer says happened; nil when it says nothing happened (`unavailable`,
    /// `bad_request`: the operation had no effect and is left out of the history).
    public static func outcome(of line: String?) -> KVOperation.Outcome? {
        guard let line, case .object(let object)? = try? JSONParser.parse(line) else { return .unknown }
        if object["status"] == .string("ok") { return .ok(object["value"]?.stringValue) }
        switch object["code"]?.stringValue {
        case "not_found": return .ok(nil)
        case "cas_failed": return .casFailed(current: object["current"]?.stringValue)
        case "timeout": return .unknown
        default: return nil
        }
    }

    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    static func format(_ seconds: Double) -> String {
        let hundredths = Int((seconds * 100).rounded())
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }
}
