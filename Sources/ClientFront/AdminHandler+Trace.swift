import Dispatch
import JSONText
import KVWire
import RaftCore
import Synchronization
import ClusterTransport
import NodeHosting
import Observability
import RuntimeSupport

/// The flight recorder's dump: `{"admin":"trace"}` writes every node's recording (or one node's,
/// with `"node"`) to `traceN.jsonl` in its data directory, for `ServerMain --replay`.
extension AdminHandler {
    func trace(node: Int?, _ reply: AdminReply, hops: Int) {
        let local = node.map { [$0] } ?? registry.localIDs
        // One node per process: every member writes its own node's file.
        let remote = node == nil && hops == 0 ? registry.statuses.map(\.id).filter { registry.host($0) == nil } : []
        let answers = Mutex<[(node: NodeID, value: JSONValue)]>([])
        let failures = Mutex<[String]>([])
        let group = DispatchGroup()
        for id in local {
            guard let host = registry.host(id) else { continue }
            group.enter()
            host.dumpTrace { result in
                switch result {
                case .success(let value): answers.withLock { $0.append((id, value)) }
                case .failure(let failure): failures.withLock { $0.append(failure.reason) }
                }
                group.leave()
            }
        }
        for id in remote {
            group.enter()
            router.forward(.admin(.trace(node: id)), to: id, id: nil, hops: hops, deadline: router.deadline,
                           onFailure: { _ in
                               failures.withLock { $0.append("node \(id)'s member cannot be reached") }
                               group.leave()
                           },
                           respond: { line in
                               if case .object(let object)? = try? JSONParser.parse(line),
                                  let traces = object["traces"]?.arrayValue {
                                   answers.withLock { $0.append(contentsOf: traces.map { (id, $0) }) }
                               } else {
                                   let message = (try? JSONParser.parse(line))?.objectValue?["error"]?.stringValue ?? line
                                   failures.withLock { $0.append("node \(id): \(message)") }
                               }
                               group.leave()
                           })
        }
        group.notify(queue: .global()) {
            let traces = answers.withLock { $0 }.sorted { $0.node < $1.node }.map(\.value)
            let problems = failures.withLock { $0 }
            if traces.isEmpty {
                return reply.error(.unavailable, problems.isEmpty ? "no node to trace" : problems.joined(separator: "; "))
            }
            var members: [(String, JSONValue)] = [("traces", .array(traces))]
            if !problems.isEmpty { members.append(("problems", .array(problems.map(JSONValue.string)))) }
            members.append(("replay", .string("ServerMain --replay DIR (the directory of the trace files)")))
            reply.ok(members)
        }
    }
}
