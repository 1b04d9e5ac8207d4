import ClientFront
import HTTPServer
import JSONText
import KVStore
import KVWire
import NodeHosting

/// `GET /v1/watch?key=K | prefix=P [&fromRevision=R]`: server-sent events, one per change —
/// `event: put|delete`, `data:` the event object — with `id:` the revision on the last event of
/// each revision, so a browser's `EventSource` that reconnects sends `Last-Event-ID` and resumes
/// after the last revision it saw whole.
extension HTTPAPI {
    func watch(_ request: HTTPRequest, respond: @escaping @Sendable (HTTPResponse) -> Void) {
        guard allow(request, ["GET"], respond) else { return }
        var members: [(key: String, value: JSONValue)] = [("op", .string("watch"))]
        for name in ["key", "prefix"] {
            if let value = request.queryParameter(name) { members.append((name, .string(value))) }
        }
        // A browser reconnects with its first URL and the last revision it saw whole: that wins.
        if let last = request.header("Last-Event-ID"), let revision = Int(last) {
            members.append(("fromRevision", .int(revision + 1)))
        } else if let from = request.queryParameter("fromRevision") {
            guard let revision = Int(from) else { return respond(error(400, .badRequest, "fromRevision must be a revision number")) }
            members.append(("fromRevision", .int(revision)))
        }
        let parsed: WatchRequest
        do {
            guard case .watch(let watch) = try RequestParser.request(from: JSONObject(members), limits: limits).operation else {
                return respond(error(400, .badRequest, "not a watch"))
            }
            parsed = watch
        } catch let problem as RequestError {
            return respond(HTTPResponse.json(Self.status(for: problem.code), ClientResponse.error(problem, id: nil)))
        } catch {
            return respond(self.error(400, .badRequest, "\(error)"))
        }
        guard authorized(ClientRequest(.watch(parsed)), request, respond) else { return }
        let stream = EventStream()
        let metrics = router.metrics
        let filter: WatchFilter = parsed.key.map { .key(ByteKey($0)) } ?? .prefix(ByteKey(parsed.prefix ?? ""))
        let follower = WatchFollower(
            registry: router.registry, filter: filter, from: parsed.fromRevision,
            deliver: { batch in
                stream.send(frame: batch.sseFrames)  // encoded once per batch, shared by every stream
                metrics.watchEventsSent(batch.events.count)
            },
            started: { outcome in
                switch outcome {
                case .success(let revision):
                    // The revision it starts after, so a browser that reconnects before any event
                    // resumes from there instead of "from now"; and a quick reconnect.
                    stream.send(frame: Array("retry: 1000\nid: \(max(0, (parsed.fromRevision ?? revision + 1) - 1))\n\n".utf8))
                    respond(HTTPResponse.eventStream(stream))
                case .failure(let compacted):
                    metrics.watchClosed()
                    let body = "{\"status\":\"error\",\"code\":\"compacted\",\"oldestRevision\":\(compacted.oldestRevision),\"error\":\"the changes before revision \(compacted.oldestRevision) are no longer kept\"}"
                    respond(HTTPResponse.json(410, body))
                }
            },
            ended: { compacted in
                stream.send(event: "error", data: "{\"code\":\"compacted\",\"oldestRevision\":\(compacted.oldestRevision)}")
                stream.close()
            })
        metrics.watchOpened()
        stream.whenClosed {
            follower.stop()
            metrics.watchClosed()
        }
        follower.start()
    }
}
