import HTTPServer
import JSONText
import KVWire
import Synchronization

/// Serves one indexed recording over HTTP — `GET /v1/replay` (the timeline) and
/// `GET /v1/replay/state?step=S[&tail=N]` (the status object after step S) — for
/// `ServerMain --replay DIR --http-port P` and for a live server's own recordings (`/replay`).
public final class ReplayService: Sendable {
    struct State {
        var view: ReplayView?
        /// A recording being indexed, and how far it got.
        var loading: String?
        var indexed = 0
        var failure: String?
        /// The latest load: an older one that finishes later is dropped.
        var generation = 0
    }

    private let state = Mutex(State())

    public init(view: ReplayView? = nil) {
        state.withLock { $0.view = view }
    }

    public var view: ReplayView? { state.withLock { $0.view } }
    public var isLoading: Bool { state.withLock { $0.loading != nil } }

    /// A load begins; returns its generation, for `progress` and `finished`.
    @discardableResult
    public func beginLoading(_ what: String) -> Int {
        state.withLock { state in
            state.loading = what
            state.indexed = 0
            state.failure = nil
            state.generation += 1
            return state.generation
        }
    }

    public func progress(_ indexed: Int, generation: Int? = nil) {
        state.withLock { state in
            if generation == nil || generation == state.generation { state.indexed = indexed }
        }
    }

    public func finished(_ result: Result<ReplayView, ReplayLoadError>, generation: Int? = nil) {
        state.withLock { state in
            if let generation, generation != state.generation { return }
            state.loading = nil
            switch result {
            case .success(let view): state.view = view
            case .failure(let reason): state.failure = reason.description
            }
        }
    }

    /// Answers `/v1/replay` and `/v1/replay/state`; false for any other path.
    public func answer(_ request: HTTPRequest, respond: @escaping @Sendable (HTTPResponse) -> Void) -> Bool {
        guard request.path == "/v1/replay" || request.path == "/v1/replay/state" else { return false }
        guard request.method == "GET" else {
            respond(HTTPResponse.json(405, ClientResponse.error(RequestError(.badRequest, "\(request.method) is not allowed on \(request.path); use GET"), id: nil),
                                      extra: [("Allow", "GET")]))
            return true
        }
        let snapshot = state.withLock { $0 }
        if let loading = snapshot.loading {
            respond(HTTPResponse.json(200, ClientResponse.adminOK([("loading", .string(loading)), ("indexed", .int(snapshot.indexed))], id: nil)))
            return true
        }
        guard let view = snapshot.view else {
            let reason = snapshot.failure ?? "no recording is loaded: save one first (the page's Record button, or POST /v1/replay/record)"
            respond(HTTPResponse.json(404, ClientResponse.error(RequestError(.notFound, reason), id: nil)))
            return true
        }
        if request.path == "/v1/replay" {
            respond(HTTPResponse.json(200, view.timelineJSON()))
            return true
        }
        var step = view.travel.steps
        if let text = request.queryParameter("step") {
            guard let number = Int(text), number >= 0 else {
                respond(HTTPResponse.json(400, ClientResponse.error(RequestError(.badRequest, "step must be a number from 0 to \(view.travel.steps)"), id: nil)))
                return true
            }
            step = min(number, view.travel.steps)
        }
        var tail = 48
        if let text = request.queryParameter("tail") {
            guard let number = Int(text), number >= 0, number <= 100_000 else {
                respond(HTTPResponse.json(400, ClientResponse.error(RequestError(.badRequest, "tail must be a number from 0 to 100000"), id: nil)))
                return true
            }
            tail = number
        }
        respond(HTTPResponse.json(200, view.stateJSON(step: step, tail: tail)))
        return true
    }
}
