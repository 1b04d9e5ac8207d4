import ClientFront
import HTTPServer
import JSONText
import KVWire
import WebConsole
import ClusterTransport
import NodeHosting
import Observability
import RuntimeSupport

/// The HTTP face of the store: each path becomes one of the line protocol's requests, answered by
/// the same router, its answer line becoming the body and its error code the status:
///
///     GET|PUT|DELETE /v1/kv/KEY   GET /v1/status   POST /v1/request   GET /metrics
///     GET /v1/events (server-sent events)   GET / (the web page)
public struct HTTPAPI: HTTPHandler {
    let router: RequestRouter
    let limits: WireLimits
    let feed: ConsoleFeed
    let metricsReport: MetricsReport
    let adminEnabled: Bool
    /// Eventual reads, batched per node (the proxy's batcher).
    let reads: ReadBatcher
    let authorizer: Authorizer

    public init(router: RequestRouter, limits: WireLimits, feed: ConsoleFeed, metricsReport: MetricsReport, adminEnabled: Bool,
                reads: ReadBatcher, authorizer: Authorizer = Authorizer(tokens: [])) {
        self.authorizer = authorizer
        self.router = router
        self.limits = limits
        self.feed = feed
        self.metricsReport = metricsReport
        self.adminEnabled = adminEnabled
        self.reads = reads
    }

    public func handle(_ request: HTTPRequest, respond: @escaping @Sendable (HTTPResponse) -> Void) {
        let path = request.path
        if path.hasPrefix("/v1/kv/") {
            return keyValue(request, respond: respond)
        }
        if path == "/v1/kv" {
            return keyRange(request, respond: respond)
        }
        if path == "/v1/watch" {
            return watch(request, respond: respond)
        }
        if path == "/replay" || path.hasPrefix("/v1/replay") {
            return replay(request, respond: respond)
        }
        switch path {
        case "/", "/index.html":
            guard allow(request, ["GET"], respond) else { return }
            respond(page(ConsolePage.html, type: "text/html; charset=utf-8"))
        case "/console.js":
            guard allow(request, ["GET"], respond) else { return }
            respond(page(ConsolePage.script, type: "text/javascript; charset=utf-8"))
        case "/console.css":
            guard allow(request, ["GET"], respond) else { return }
            respond(page(ConsolePage.style, type: "text/css; charset=utf-8"))
        case "/v1/status":
            guard allow(request, ["GET"], respond), authorized(.admin(.status), request, respond) else { return }
            forward(.admin(.status), id: nil, respond: respond)
        case "/v1/request":
            guard allow(request, ["POST"], respond) else { return }
            guard request.body.count <= limits.lineBytes else {
                return respond(error(413, .tooLarge, "the request of \(request.body.count) bytes exceeds \(limits.lineBytes)"))
            }
            let parsed = RequestParser.parse(request.body[...], limits: limits)
            switch parsed.result {
            case .failure(let problem):
                respond(HTTPResponse.json(Self.status(for: problem.code), ClientResponse.error(problem, id: parsed.id)))
            case .success(let clientRequest):
                guard authorized(clientRequest, request, respond) else { return }
                forward(clientRequest, id: parsed.id, respond: respond)
            }
        case "/metrics":
            guard allow(request, ["GET"], respond), authorized(.admin(.metrics(prometheus: true)), request, respond) else { return }
            guard adminEnabled else { return respond(error(403, .forbidden, "admin requests are disabled (admin.enabled is false)")) }
            respond(HTTPResponse.text(200, metricsReport.prometheusText(), contentType: "text/plain; version=0.0.4; charset=utf-8"))
        case "/v1/events":
            guard allow(request, ["GET"], respond), authorized(.admin(.status), request, respond) else { return }
            guard adminEnabled else { return respond(error(403, .forbidden, "admin requests are disabled (admin.enabled is false)")) }
            let stream = EventStream()
            feed.subscribe(stream)
            respond(HTTPResponse.eventStream(stream))
        default:
            respond(error(404, .notFound, "no such path: \(path) (the API is under /v1/, the page at /)"))
        }
    }

    /// GET, PUT and DELETE of one key; the key is the rest of the path, percent-decoded.
    private func keyValue(_ request: HTTPRequest, respond: @escaping @Sendable (HTTPResponse) -> Void) {
        guard allow(request, ["GET", "PUT", "DELETE"], respond) else { return }
        let encoded = String(request.path.dropFirst("/v1/kv/".count))
        guard let key = PercentDecoding.decode(encoded) else {
            return respond(error(400, .badRequest, "the key is not valid percent-encoded UTF-8"))
        }
        guard !key.isEmpty else { return respond(error(400, .badRequest, "the key must not be empty: /v1/kv/KEY")) }
        guard key.utf8.count <= limits.keyBytes else {
            return respond(error(413, .tooLarge, "key is \(key.utf8.count) bytes; the limit is \(limits.keyBytes)"))
        }
        switch request.method {
        case "GET":
            let consistency: ReadConsistency
            switch request.queryParameter("consistency") {
            case nil, "eventual"?: consistency = .eventual
            case "linearizable"?: consistency = .linearizable
            case let other?: return respond(error(400, .badRequest, "consistency must be eventual or linearizable, not \(JSONWriter.quoted(other))"))
            }
            var get = ClientRequest.get(key: key, consistency: consistency)
            get.revisions = request.queryParameter("revisions") == "true"
            guard authorized(get, request, respond) else { return }
            if consistency == .eventual {
                readEventually(get, respond: respond)
            } else {
                forward(get, id: nil, respond: respond)
            }
        case "PUT":
            guard let value = String(validating: request.body, as: UTF8.self) else {
                return respond(error(400, .badRequest, "the value (the body) must be UTF-8 text"))
            }
            guard value.utf8.count <= limits.valueBytes else {
                return respond(error(413, .tooLarge, "value is \(value.utf8.count) bytes; the limit is \(limits.valueBytes)"))
            }
            guard authorized(.put(key: key, value: value), request, respond) else { return }
            forward(.put(key: key, value: value), id: nil, respond: respond)
        default:
            guard authorized(.delete(key: key), request, respond) else { return }
            forward(.delete(key: key), id: nil, respond: respond)
        }
    }

    /// `GET /v1/kv?prefix=P&limit=N&after=K` (or `from`, `to`; `keysOnly`, `consistency`): a
    /// range; `DELETE /v1/kv?prefix=P`: a delete by prefix. The query becomes the same request
    /// object the line protocol takes, checked by the same parser.
    private func keyRange(_ request: HTTPRequest, respond: @escaping @Sendable (HTTPResponse) -> Void) {
        guard allow(request, ["GET", "DELETE"], respond) else { return }
        var members: [(key: String, value: JSONValue)] = [("op", .string(request.method == "GET" ? "range" : "delete"))]
        for name in ["prefix", "from", "to", "after", "consistency"] {
            if let value = request.queryParameter(name) { members.append((name, .string(value))) }
        }
        if let limit = request.queryParameter("limit") {
            guard let number = Int(limit) else { return respond(error(400, .badRequest, "limit must be a number, not \(JSONWriter.quoted(limit))")) }
            members.append(("limit", .int(number)))
        }
        for flag in ["keysOnly", "revisions"] {
            guard let value = request.queryParameter(flag) else { continue }
            guard value == "true" || value == "false" else { return respond(error(400, .badRequest, "\(flag) must be true or false")) }
            members.append((flag, .bool(value == "true")))
        }
        if request.method == "DELETE" && request.queryParameter("prefix") == nil {
            return respond(error(400, .badRequest, "DELETE /v1/kv needs ?prefix=P (DELETE /v1/kv/KEY deletes one key)"))
        }
        let parsed: ClientRequest
        do {
            parsed = try RequestParser.request(from: JSONObject(members), limits: limits)
        } catch let problem as RequestError {
            return respond(HTTPResponse.json(Self.status(for: problem.code), ClientResponse.error(problem, id: nil)))
        } catch {
            return respond(self.error(400, .badRequest, "\(error)"))
        }
        guard authorized(parsed, request, respond) else { return }
        if parsed.isEventualRead {
            readEventually(parsed, respond: respond)
        } else {
            forward(parsed, id: nil, respond: respond)
        }
    }

    /// An eventual read through the read batcher, timed like every request.
    func readEventually(_ request: ClientRequest, respond: @escaping @Sendable (HTTPResponse) -> Void) {
        let timer = router.metrics.startTimer(op: request.opName)
        reads.read(request, id: nil) { line in
            timer.stop()
            respond(HTTPResponse.json(Self.status(ofAnswer: line), line))
        }
    }

    func forward(_ request: ClientRequest, id: JSONValue?, respond: @escaping @Sendable (HTTPResponse) -> Void) {
        let timer = router.metrics.startTimer(op: request.opName)
        router.handle(request, id: id) { line in
            timer.stop()
            respond(HTTPResponse.json(Self.status(ofAnswer: line), line))
        }
    }

    /// Whether `clientRequest` may go ahead with the request's token (`Authorization: Bearer`, or
    /// `?token=` for event streams, which browsers open without headers); answers 401 or 403 when not.
    func authorized(_ clientRequest: ClientRequest, _ request: HTTPRequest, _ respond: @Sendable (HTTPResponse) -> Void) -> Bool {
        guard !authorizer.isOpen else { return true }
        var token: String?
        if let header = request.header("Authorization"), header.hasPrefix("Bearer ") {
            token = String(header.dropFirst("Bearer ".count)).trimmingSpaces
        } else if request.method == "GET" {
            token = request.queryParameter("token")
        }
        guard let refusal = authorizer.refusal(of: clientRequest, token: token) else { return true }
        let status = refusal.code == .unauthorized ? 401 : 403
        respond(HTTPResponse.json(status, ClientResponse.error(refusal, id: nil),
                                  extra: status == 401 ? [("WWW-Authenticate", "Bearer realm=\"raftkv\"")] : []))
        return false
    }

    /// Refuses a method the path does not take: 405 with `Allow`.
    func allow(_ request: HTTPRequest, _ methods: [String], _ respond: @Sendable (HTTPResponse) -> Void) -> Bool {
        if methods.contains(request.method) { return true }
        let list = methods.joined(separator: ", ")
        respond(HTTPResponse.json(405, ClientResponse.error(RequestError(.badRequest, "\(request.method) is not allowed on \(request.path); use \(list)"), id: nil),
                                  extra: [("Allow", list)]))
        return false
    }

    func error(_ status: Int, _ code: ErrorCode, _ message: String) -> HTTPResponse {
        HTTPResponse.json(status, ClientResponse.error(RequestError(code, message), id: nil))
    }

    private func page(_ text: String, type: String) -> HTTPResponse {
        var response = HTTPResponse.text(200, text, contentType: type)
        response.headers.append(("Cache-Control", "no-cache"))
        return response
    }

    /// The status code for an answer line: 200 for `"status":"ok"`, else by its `code`.
    static func status(ofAnswer line: String) -> Int {
        if AnswerLine.isOK(line) { return 200 }
        return AnswerLine.code(line).flatMap(ErrorCode.init(rawValue:)).map(status(for:)) ?? 500
    }

    static func status(for code: ErrorCode) -> Int {
        switch code {
        case .badRequest: return 400
        case .unauthorized: return 401
        case .forbidden: return 403
        case .notFound: return 404
        case .casFailed, .busy, .staleRequest, .watchCancelled, .scenarioFailed: return 409
        case .compacted: return 410
        case .tooLarge: return 413
        case .unavailable: return 503
        case .timeout: return 504
        }
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
