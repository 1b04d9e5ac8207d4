import ClientFront
import Dispatch
import JSONText
import KVStore
import KVWire
import NodeHosting

/// Watches on a line connection: `{"op":"watch",…}` is answered in order like any request, and
/// from then on event lines `{"watch":W,"events":[…],"revision":R}` come beside the answers —
/// never before the watch's own answer. A client that reads so slowly that its output piles up
/// past `slowWatcherBytes` has the watch stopped, with a line that says so and where to resume.
extension LineConnection {
    /// Output waiting for a slow client beyond which its watches are stopped.
    static let slowWatcherBytes = 8 << 20

    /// One watch of this connection. @unchecked Sendable: its mutable fields are touched on the
    /// connection's queue only (`name`, `nameJSON` and `linePrefix` never change).
    final class LineWatch: @unchecked Sendable {
        let name: JSONValue
        let nameJSON: String
        /// `{"watch":W`: what this watch puts before a batch's shared line tail.
        let linePrefix: [UInt8]
        var follower: WatchFollower?
        /// Lines that came before the watch's answer went out.
        var early: [UInt8] = []
        var answered = false

        init(name: JSONValue) {
            self.name = name
            var writer = JSONWriter()
            writer.value(name)
            self.nameJSON = writer.text
            self.linePrefix = Array(("{\"watch\":" + writer.text).utf8)
        }
    }

    func startWatch(_ request: WatchRequest, id: JSONValue?, sequence: Int) {
        let watch = LineWatch(name: request.name)
        guard watches[watch.nameJSON] == nil else {
            return answer(sequence, .line(ClientResponse.error(RequestError(.badRequest, "this connection already has a watch named \(watch.nameJSON); pick another name or unwatch it"), id: id)))
        }
        watches[watch.nameJSON] = watch
        let filter: WatchFilter = request.key.map { .key(ByteKey($0)) } ?? .prefix(ByteKey(request.prefix ?? ""))
        let hop = proxy.watchHandOff(for: self)
        let follower = WatchFollower(
            registry: proxy.router.registry, filter: filter, from: request.fromRevision,
            deliver: { [self] batch in
                hop.post(Proxy.WatchLine(connection: self, watch: watch, batch: batch))
            },
            started: { [self] outcome in
                self.queue.async { self.watchStarted(watch, outcome, id: id, sequence: sequence) }
            },
            ended: { [self] compacted in
                let line = Self.compactedLine(watch, compacted, id: nil) + "\n"
                self.queue.async { self.endWatch(watch, line: line) }
            })
        watch.follower = follower
        proxy.metrics.watchOpened()
        follower.start()
    }

    private func watchStarted(_ watch: LineWatch, _ outcome: Result<Int64, CompactedError>, id: JSONValue?, sequence: Int) {
        switch outcome {
        case .success(let revision):
            let line = "{\"status\":\"ok\",\"watch\":" + watch.nameJSON + ",\"revision\":\(revision)"
                + (id.map { value -> String in var writer = JSONWriter(); writer.value(value); return ",\"id\":" + writer.text } ?? "") + "}"
            answer(sequence, .lineThen(line, written: { [self] in
                watch.answered = true
                if !watch.early.isEmpty { self.writeOutOfBand(watch.early) }
                watch.early = []
            }))
        case .failure(let compacted):
            watches.removeValue(forKey: watch.nameJSON)
            proxy.metrics.watchClosed()
            answer(sequence, .line(Self.compactedLine(watch, compacted, id: id)))
        }
    }

    static func compactedLine(_ watch: LineWatch, _ compacted: CompactedError, id: JSONValue?) -> String {
        var object = JSONObjectWriter()
        object.member("watch", watch.name)
        object.member("status", string: "error")
        object.member("code", string: ErrorCode.compacted.rawValue)
        object.member("oldestRevision", .number(String(compacted.oldestRevision)))
        object.member("error", string: "the changes before revision \(compacted.oldestRevision) are no longer kept; watch from \(compacted.oldestRevision) or later, or read the current state with a range")
        if let id { object.member("id", id) }
        return object.finished()
    }

    /// An event line, on the connection's queue: the watch's prefix and the batch's shared tail,
    /// queued without writing (the hand-off flushes each connection once per run). Returns
    /// whether anything was queued for writing.
    func queueWatchLine(_ watch: LineWatch, _ batch: WatchBatch) -> Bool {
        guard watches[watch.nameJSON] === watch else { return false }  // unwatched meanwhile
        guard outputPending <= Self.slowWatcherBytes else {
            cutSlowWatch(watch)
            return false
        }
        watchEventsQueued += batch.events.count
        if watch.answered {
            appendOutOfBand(watch.linePrefix)
            appendOutOfBand(batch.lineTail)
            return true
        }
        watch.early.append(contentsOf: watch.linePrefix)
        watch.early.append(contentsOf: batch.lineTail)
        return false
    }

    /// The events queued since the last flush, for the metrics.
    func takeWatchEventsQueued() -> Int {
        defer { watchEventsQueued = 0 }
        return watchEventsQueued
    }

    private func cutSlowWatch(_ watch: LineWatch) {
        let resume = watch.follower?.nextRevision
        proxy.metrics.slowWatcherCut()
        var object = JSONObjectWriter()
        object.member("watch", watch.name)
        object.member("status", string: "error")
        object.member("code", string: ErrorCode.watchCancelled.rawValue)
        if let resume { object.member("resumeFrom", .number(String(resume))) }
        object.member("error", string: "this watch was stopped: its events piled up past \(Self.slowWatcherBytes >> 20) MiB unread; watch again with fromRevision \(resume.map(String.init) ?? "of your last event + 1")")
        endWatch(watch, line: object.finished() + "\n")
    }

    private func endWatch(_ watch: LineWatch, line: String) {
        guard watches.removeValue(forKey: watch.nameJSON) != nil else { return }
        watch.follower?.stop()
        proxy.metrics.watchClosed()
        if watch.answered { writeOutOfBand(Array(line.utf8)) } else { watch.early.append(contentsOf: line.utf8) }
    }

    func stopWatch(named name: JSONValue, id: JSONValue?, sequence: Int) {
        var writer = JSONWriter()
        writer.value(name)
        guard let watch = watches.removeValue(forKey: writer.text) else {
            return answer(sequence, .line(ClientResponse.error(RequestError(.notFound, "no watch named \(writer.text) on this connection"), id: id)))
        }
        watch.follower?.stop()
        proxy.metrics.watchClosed()
        answer(sequence, .line(ClientResponse.adminOK([("watch", name)], id: id)))
    }

    /// The connection is closing: its watches go with it.
    func stopAllWatches() {
        for watch in watches.values {
            watch.follower?.stop()
            proxy.metrics.watchClosed()
        }
        watches.removeAll()
    }
}
