#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LinCheck

/// `KVBench make-history SHAPE`: prints a made-up linearizable history (`SyntheticHistory`) for
/// timing `ClientMain check --history` and other checkers on the same file.
enum MakeHistoryCommand {
    static let usage = """
        Usage: KVBench make-history jepsen-register|lab-kv [--operations N] [--clients C] [--keys K]
                                    [--crash-rate R] [--seed S] > FILE

          jepsen-register  Jepsen log lines of an etcd-style register test (read, write, cas on 0–4)
          lab-kv           Jepsen EDN maps of the MIT lab's key-value test (get, put, append on K keys)
          defaults: 1000 operations, 10 clients, 50 keys, crash rate 0.05 (register) or 0 (lab-kv), seed 1
        """

    static func run(_ arguments: [String]) -> Int32 {
        guard let shapeName = arguments.first, shapeName == "jepsen-register" || shapeName == "lab-kv" else {
            print(usage)
            return arguments.first == "--help" ? 0 : 2
        }
        var operations = 1000, clients = 10, keys = 50, seed: UInt64 = 1
        var crashRate = shapeName == "lab-kv" ? 0.0 : 0.05
        var remaining = arguments.dropFirst()
        while let name = remaining.popFirst() {
            guard let text = remaining.popFirst() else {
                print(usage)
                return 2
            }
            switch name {
            case "--operations": operations = Int(text) ?? -1
            case "--clients": clients = Int(text) ?? -1
            case "--keys": keys = Int(text) ?? -1
            case "--crash-rate": crashRate = Double(text) ?? -1
            case "--seed": seed = UInt64(text) ?? 0
            default: operations = -1
            }
        }
        guard operations > 0, clients > 0, keys > 0, crashRate >= 0, crashRate < 1 else {
            print(usage)
            return 2
        }
        let shape: SyntheticHistory.Shape = shapeName == "lab-kv" ? .labKV(keys: keys) : .jepsenRegister
        print(SyntheticHistory.make(shape, operations: operations, clients: clients, crashRate: crashRate, seed: seed), terminator: "")
        return 0
    }
}
