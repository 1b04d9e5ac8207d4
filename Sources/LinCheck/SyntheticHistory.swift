/// Made-up histories of a correct store, in Jepsen's formats, for tests and for timing the
/// checker: clients call operations, each takes effect at some instant while it is open, and
/// some clients crash (`:info`: the operation may or may not take effect, later or never, and
/// the client comes back under a new process id, as in Jepsen). Every history made here is
/// linearizable; `tamper` makes one answer wrong.
public struct SyntheticHistory {
    public enum Shape: Sendable {
        /// Jepsen's etcd register test: `:read`, `:write` and `:cas [from to]` on values 0–4,
        /// written as Jepsen log lines.
        case jepsenRegister
        /// The MIT lab's key-value test: `:get`, `:put` and `:append` on keys, written as EDN maps.
        case labKV(keys: Int)
    }

    private struct Open {
        var process: Int
        var key: Int
        var function: String
        var argument: String
        var invokeValue: String
        var applied = false
        var answer = ""
        var succeeded = true
    }

    private var random: SplitMix64Words
    private let shape: Shape
    private var lines: [String] = []
    private var registers: [String?]

    /// A history of `operations` operations by `clients` clients; `crashRate` of the operations
    /// end in a crash.
    public static func make(_ shape: Shape, operations: Int, clients: Int, crashRate: Double, seed: UInt64) -> String {
        var maker = SyntheticHistory(shape: shape, seed: seed)
        maker.run(operations: operations, clients: clients, crashRate: crashRate)
        return maker.lines.joined(separator: "\n") + "\n"
    }

    private init(shape: Shape, seed: UInt64) {
        self.shape = shape
        random = SplitMix64Words(seed: seed)
        if case .labKV(let keys) = shape { registers = Array(repeating: nil, count: max(1, keys)) } else { registers = [nil] }
    }

    private mutating func below(_ bound: Int) -> Int { Int(random.next() % UInt64(max(1, bound))) }
    private mutating func chance(_ probability: Double) -> Bool { Double(random.next() >> 11) / Double(1 << 53) < probability }

    private mutating func run(operations: Int, clients: Int, crashRate: Double) {
        var processes = Array(0..<clients)
        var nextProcess = clients
        var open: [Int: Open] = [:]   // by client slot
        var ghosts: [Open] = []       // crashed, not yet applied: may still take effect
        var started = 0
        while started < operations || !open.isEmpty {
            let slot = below(clients)
            if var operation = open[slot] {
                if !operation.applied {
                    apply(&operation)
                    open[slot] = operation
                } else if chance(crashRate) {
                    emit(operation, type: "info", value: ":timed-out")
                    open[slot] = nil
                    processes[slot] = nextProcess
                    nextProcess += 1
                } else {
                    complete(operation)
                    open[slot] = nil
                }
            } else if started < operations {
                started += 1
                let operation = invocation(process: processes[slot])
                emit(operation, type: "invoke", value: operation.invokeValue)
                if chance(crashRate) {
                    // Crashes before taking effect: perhaps later, perhaps never.
                    emit(operation, type: "info", value: ":timed-out")
                    ghosts.append(operation)
                    processes[slot] = nextProcess
                    nextProcess += 1
                } else {
                    open[slot] = operation
                }
            }
            if !ghosts.isEmpty, chance(0.05) {
                var ghost = ghosts.remove(at: below(ghosts.count))
                if chance(0.5) { apply(&ghost) }
            }
        }
    }

    private mutating func invocation(process: Int) -> Open {
        switch shape {
        case .jepsenRegister:
            switch below(3) {
            case 0: return Open(process: process, key: 0, function: "read", argument: "", invokeValue: "nil")
            case 1:
                let value = String(below(5))
                return Open(process: process, key: 0, function: "write", argument: value, invokeValue: value)
            default:
                let pair = "[\(below(5)) \(below(5))]"
                return Open(process: process, key: 0, function: "cas", argument: pair, invokeValue: pair)
            }
        case .labKV(let keys):
            let key = below(keys)
            switch below(3) {
            case 0: return Open(process: process, key: key, function: "get", argument: "", invokeValue: "nil")
            case 1: return Open(process: process, key: key, function: "put", argument: "x \(process) \(lines.count) y", invokeValue: "")
            default: return Open(process: process, key: key, function: "append", argument: "x \(process) \(lines.count) y", invokeValue: "")
            }
        }
    }

    private mutating func apply(_ operation: inout Open) {
        operation.applied = true
        let current = registers[operation.key]
        switch operation.function {
        case "read": operation.answer = current ?? "nil"
        case "get": operation.answer = current ?? ""
        case "write", "put": registers[operation.key] = operation.argument
        case "append": registers[operation.key] = (current ?? "") + operation.argument
        default:
            let parts = operation.argument.dropFirst().dropLast().split(separator: " ").map(String.init)
            operation.succeeded = current == parts[0]
            if operation.succeeded { registers[operation.key] = parts[1] }
        }
    }

    private mutating func complete(_ operation: Open) {
        switch operation.function {
        case "read", "get": emit(operation, type: "ok", value: operation.answer)
        case "cas": emit(operation, type: operation.succeeded ? "ok" : "fail", value: operation.argument)
        default: emit(operation, type: "ok", value: operation.argument)
        }
    }

    private mutating func emit(_ operation: Open, type: String, value: String) {
        switch shape {
        case .jepsenRegister:
            lines.append("INFO  jepsen.util - \(operation.process)\t:\(type)\t:\(operation.function)\t\(value)")
        case .labKV:
            let shown: String
            if type == "info" { shown = "nil" } else if operation.function == "get" { shown = type == "invoke" ? "nil" : MiniJSON.quoted(value) } else { shown = MiniJSON.quoted(operation.argument) }
            lines.append("{:process \(operation.process), :type :\(type), :f :\(operation.function), :key \"\(operation.key)\", :value \(shown)}")
        }
    }
}
