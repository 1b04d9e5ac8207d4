import ClientFront
import HTTPServer
import JSONText
import KVWire
import WebConsole

/// Time travel on the live server: `GET /replay` (the page in replay mode), `POST
/// /v1/replay/record` (write every node's flight recorder and the notes beside them, then index
/// them), `GET /v1/replay` and `GET /v1/replay/state?step=S` (the recording last saved).
extension HTTPAPI {
    func replay(_ request: HTTPRequest, respond: @escaping @Sendable (HTTPResponse) -> Void) {
        guard authorized(.admin(.status), request, respond) else { return }
        guard adminEnabled else { return respond(error(403, .forbidden, "admin requests are disabled (admin.enabled is false)")) }
        guard let admin = router.admin else { return respond(error(503, .unavailable, "the server is starting")) }
        let library = admin.replays
        switch request.path {
        case "/replay":
            guard allow(request, ["GET"], respond) else { return }
            var response = HTTPResponse.text(200, ConsolePage.replayHTML, contentType: "text/html; charset=utf-8")
            response.headers.append(("Cache-Control", "no-cache"))
            respond(response)
        case "/v1/replay/record":
            guard allow(request, ["POST"], respond), authorized(.admin(.trace(node: nil)), request, respond) else { return }
            library.record(admin: admin) { result in
                switch result {
                case .success(let saved):
                    let command = "ServerMain --replay " + saved.directories.joined(separator: " --replay ") + " --http-port 8090"
                    respond(HTTPResponse.json(200, ClientResponse.adminOK([
                        ("files", .array(saved.files.map(JSONValue.string))),
                        ("directories", .array(saved.directories.map(JSONValue.string))),
                        ("replay", .string("/replay")), ("command", .string(command)),
                    ], id: nil)))
                case .failure(let problem):
                    respond(HTTPResponse.json(Self.status(for: problem.code), ClientResponse.error(problem, id: nil)))
                }
            }
        default:
            if !library.service.answer(request, respond: respond) {
                respond(error(404, .notFound, "no such path: \(request.path) (time travel: /replay, /v1/replay, /v1/replay/state?step=S)"))
            }
        }
    }
}
