import HTTPServer
import KVWire
import WebConsole

/// The HTTP face of `ServerMain --replay DIR --http-port P`: the page in time-travel mode (at `/`
/// and `/replay`), its script and style, and the recording over `/v1/replay` and
/// `/v1/replay/state?step=S`. There is no cluster behind it: everything else is 404.
public struct ReplayPageHandler: HTTPHandler {
    let service: ReplayService

    public init(service: ReplayService) {
        self.service = service
    }

    public func handle(_ request: HTTPRequest, respond: @escaping @Sendable (HTTPResponse) -> Void) {
        if service.answer(request, respond: respond) { return }
        let page: (String, String)?
        switch request.path {
        case "/", "/index.html", "/replay": page = (ConsolePage.replayHTML, "text/html; charset=utf-8")
        case "/console.js": page = (ConsolePage.script, "text/javascript; charset=utf-8")
        case "/console.css": page = (ConsolePage.style, "text/css; charset=utf-8")
        default: page = nil
        }
        guard let (text, type) = page else {
            let problem = RequestError(.notFound, "no such path: \(request.path) (this server replays a recording: the page at /, the API at /v1/replay and /v1/replay/state?step=S)")
            return respond(HTTPResponse.json(404, ClientResponse.error(problem, id: nil)))
        }
        guard request.method == "GET" else {
            return respond(HTTPResponse.json(405, ClientResponse.error(RequestError(.badRequest, "use GET"), id: nil), extra: [("Allow", "GET")]))
        }
        var response = HTTPResponse.text(200, text, contentType: type)
        response.headers.append(("Cache-Control", "no-cache"))
        respond(response)
    }
}
