import ClusterTransport
import Dispatch
import JSONText
import KVWire
import RaftCore
import RaftReplay
import RuntimeSupport
import Synchronization
import TimeTravelFront

/// A live server's time travel: "record now, look later". It keeps the notes a recording cannot
/// show (network switches, messages delivered or dropped by hand, kills, a scenario's narration)
/// with their times; `record` writes every node's flight recorder ring (as `{"admin":"trace"}`
/// does) and the notes beside them (`timeline.jsonl`), then indexes them for `/replay`.
public final class ReplayLibrary: Sendable {
    public let service = ReplayService()
    private let notes = Mutex<[TimelineNote]>([])
    /// The scenario running now (one at a time).
    package let runningScenario = Mutex<String?>(nil)
    static let keptNotes = 5_000
    /// A live recording longer than this (records over all nodes) is replayed from a later state
    /// of each node on, so that the page opens in seconds.
    static let recordBudget = 60_000

    public init() {}

    /// Keeps a note, timed now on the recorders' clock.
    public func note(_ kind: String, node: NodeID? = nil, _ text: String) {
        let note = TimelineNote(time: MonotonicClock.now(), kind: kind, node: node, text: text)
        notes.withLock { notes in
            notes.append(note)
            if notes.count > Self.keptNotes { notes.removeFirst(notes.count - Self.keptNotes) }
        }
    }

    /// The notes kept since `time`.
    public func notes(since time: UInt64 = 0) -> [TimelineNote] {
        notes.withLock { $0.filter { $0.time >= time } }
    }

    /// Notes an admin request the recording cannot show by itself.
    func noteAdmin(_ request: AdminRequest, held: [HeldMessage]) {
        switch request {
        case .drop(let id):
            guard let message = held.first(where: { $0.id == id }) else { return }
            let note = TimelineNote(time: MonotonicClock.now(), kind: "drop", node: message.envelope.to,
                                    text: "dropped by hand: \(message.envelope)", dropped: message.envelope)
            notes.withLock { $0.append(note) }
        case .partition(let groups):
            note("partition", "partition: " + groups.map { "{" + $0.map(String.init).joined(separator: ",") + "}" }.joined(separator: " | "))
        case .isolate(let node): note("partition", node: node, "node \(node) isolated")
        case .heal: note("partition", "network healed")
        case .slow(let node, let ms): note("partition", node: node, ms > 0 ? "node \(node) slowed by \(ms) ms" : "node \(node) back to full speed")
        case .pause: note("admin", "paused")
        case .resume: note("admin", "resumed")
        case .disk(let node, let fault): note("admin", node: node, "disk fault on node \(node): \(fault)")
        default: break
        }
    }

    /// What `record` wrote.
    public struct Saved: Sendable {
        public var directories: [String]
        public var files: [String]
    }

    /// Writes the rings and the notes, answers `done` once they are on disk, and goes on indexing
    /// them for `/replay` in the background (`service` says when it is ready). `from`: each node's
    /// recording is replayed from its first restart at or after this time; `startAt`: the page
    /// opens at the last step before this time.
    package func record(admin: AdminHandler, from: UInt64? = nil, startAt: UInt64? = nil,
                done: @escaping @Sendable (Result<Saved, RequestError>) -> Void) {
        admin.handle(.trace(node: nil), id: nil, hops: 0) { [self] line in
            guard case .object(let answer)? = try? JSONParser.parse(line), answer["status"]?.stringValue == "ok",
                  let traces = answer["traces"]?.arrayValue else {
                let message = (try? JSONParser.parse(line))?.objectValue?["error"]?.stringValue ?? line
                return done(.failure(RequestError(.unavailable, "the recorders could not be written: \(message)")))
            }
            let files = traces.compactMap { $0.objectValue?["file"]?.stringValue }
            var directories: [String] = []
            for file in files {
                let directory = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
                let name = directory.isEmpty ? "." : directory
                if !directories.contains(name) { directories.append(name) }
            }
            guard let first = directories.first else {
                return done(.failure(RequestError(.unavailable, "no node has a flight recorder (traceCapacity is 0)")))
            }
            let kept = notes(since: 0)
            do {
                try TimelineNotesFile.write(kept, directory: first)
            } catch {
                return done(.failure(RequestError(.unavailable, "cannot write \(first)/\(TimelineNotesFile.name): \(error)")))
            }
            // The load begins before the answer, so a request that follows the answer (another
            // Record) starts a newer load rather than being replaced by this one.
            load(directories: directories, from: from, startAt: startAt)
            done(.success(Saved(directories: directories, files: files)))
        }
    }

    /// Indexes the recording in `directories` for `/replay`, in the background.
    func load(directories: [String], from: UInt64?, startAt: UInt64?) {
        let service = self.service
        let generation = service.beginLoading(directories.joined(separator: " "))
        DispatchQueue.global(qos: .userInitiated).async {
            do {
                let view = try ReplayView.load(directories: directories, trimAfter: from,
                                               recordBudget: from == nil ? Self.recordBudget : nil,
                                               startStep: { travel in startAt.map { travel.step(atTime: $0) } },
                                               progress: { service.progress($0, generation: generation) })
                service.finished(.success(view), generation: generation)
            } catch {
                service.finished(.failure(ReplayLoadError(description: "\(error)")), generation: generation)
            }
        }
    }
}

extension AdminRequest {
    var isDrop: Bool {
        if case .drop = self { return true }
        return false
    }
}
