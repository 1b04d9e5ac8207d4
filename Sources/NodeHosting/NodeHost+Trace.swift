import Dispatch
import FlightRecording
import JSONText
import RaftCore
import RuntimeSupport

/// The flight recorder's output: a node's trace file, on request.
extension NodeHost {
    /// Writes the recorder's ring to `traceN.jsonl` — or, when recording continuously, adds the
    /// node's current state to the file and waits until everything so far is written. `reply`
    /// gets a description of the file, or why there is none.
    public func dumpTrace(reply: @escaping @Sendable (Result<JSONValue, TraceDumpFailure>) -> Void) {
        queue.async {
            guard let recorder = self.recorder else {
                return reply(.failure(TraceDumpFailure(reason: "node \(self.id) has no flight recorder (traceCapacity is 0)")))
            }
            let node = self.id
            let path = self.settings.traceDirectory.tracePath(node: node)
            if let writer = self.traceWriter {
                if let engine = self.engine { recorder.markCurrentState(engine.raft) }
                recorder.drain()
                let written = writer.recordsWritten
                writer.whenWritten {
                    reply(.success(Self.describe(node: node, path: path, mode: "continuous", records: written, seconds: nil)))
                }
                return
            }
            let records = recorder.recording(current: self.engine?.raft)
            let directory = self.settings.traceDirectory
            DispatchQueue.global(qos: .utility).async {
                do {
                    try directory.create()
                    try TraceFile.write(records, node: node, mode: "ring", to: path)
                } catch {
                    return reply(.failure(TraceDumpFailure(reason: "cannot write \(path): \(error)")))
                }
                let span = (records.last?.time ?? 0) &- (records.first?.time ?? 0)
                reply(.success(Self.describe(node: node, path: path, mode: "ring", records: records.count,
                                             seconds: Double(span) / 1e9)))
            }
        }
    }

    private static func describe(node: NodeID, path: String, mode: String, records: Int, seconds: Double?) -> JSONValue {
        var members: [(String, JSONValue)] = [("node", .int(node)), ("file", .string(path)), ("mode", .string(mode)),
                                             ("records", .int(records))]
        if let seconds { members.append(("seconds", .number(String((seconds * 100).rounded() / 100)))) }
        return .object(JSONObject(members))
    }
}

/// Why a node's trace could not be written.
public struct TraceDumpFailure: Error, Sendable {
    public var reason: String
}
