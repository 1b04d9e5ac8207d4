import Foundation
import Testing

/// A WebDriver session on headless Chromium (Debian's `chromium` with `chromium-driver`, which
/// `.ci/run` installs when missing), spoken to over chromedriver's HTTP API.
final class Browser {
    let driver = Process()
    let port = freePort()
    var session = ""

    init() throws {
        let chromedriver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver", "/usr/local/bin/chromedriver"]
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        let path = try #require(chromedriver, "chromedriver is not installed (apt-get install -y chromium chromium-driver)")
        driver.executableURL = URL(fileURLWithPath: path)
        driver.arguments = ["--port=\(port)"]
        driver.standardOutput = FileHandle.nullDevice
        driver.standardError = FileHandle.nullDevice
        try driver.run()
        let ready = waitFor(seconds: 20) { (try? self.call("GET", "/status")) != nil }
        try #require(ready, "chromedriver did not start")
        let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        var options: [String: Any] = ["args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                               "--window-size=1280,720", "--hide-scrollbars"]]
        if let binary { options["binary"] = binary }
        let created = try call("POST", "/session", ["capabilities": ["alwaysMatch": ["browserName": "chrome", "goog:chromeOptions": options]]])
        session = try #require((created["value"] as? [String: Any])?["sessionId"] as? String, "no WebDriver session: \(created)")
    }

    deinit {
        if !session.isEmpty { _ = try? call("DELETE", "/session/\(session)") }
        kill(driver.processIdentifier, SIGKILL)  // chromedriver ignores SIGTERM
        driver.waitUntilExit()
    }

    @discardableResult
    func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) throws -> [String: Any] {
        if ProcessInfo.processInfo.environment["RAFTKV_BROWSER_TRACE"] != nil { print("webdriver \(method) \(path)") }
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let answer = try BlockingHTTP.exchange(method: method, port: port, path: path, body: payload)
        let object = try JSONSerialization.jsonObject(with: answer.body)
        return object as? [String: Any] ?? [:]
    }

    func open(_ url: String) throws {
        try call("POST", "/session/\(session)/url", ["url": url])
    }

    /// Runs `script` in the page and returns its result.
    func run(_ script: String, _ arguments: [Any] = []) throws -> Any? {
        try call("POST", "/session/\(session)/execute/sync", ["script": script, "args": arguments])["value"]
    }

    /// Clicks the element `selector` picks, as a user would (WebDriver element click).
    func click(_ selector: String) throws {
        let found = try call("POST", "/session/\(session)/element", ["using": "css selector", "value": selector])
        let element = try #require(found["value"] as? [String: Any], "no element \(selector): \(found)")
        let id = try #require(element.values.first as? String)
        let clicked = try call("POST", "/session/\(session)/element/\(id)/click", [:])
        if let value = clicked["value"] as? [String: Any], value["error"] != nil {
            Issue.record("clicking \(selector) failed: \(value)")
        }
    }

    func screenshot(to path: String) throws {
        let answer = try call("GET", "/session/\(session)/screenshot")
        let encoded = try #require(answer["value"] as? String)
        try #require(Data(base64Encoded: encoded)).write(to: URL(fileURLWithPath: path))
    }
}

/// The live view in a real browser against a real server: three nodes and a leader, a click that
/// kills the leader and shows a new one, pause and step changing what is drawn.
@Suite(.serialized) struct BrowserTests {
    func httpURL(of server: ServerProcess) throws -> String {
        let found = waitFor(seconds: 10) { server.log.contains("live view on http://") }
        try #require(found, "the server printed no HTTP address: \(server.log)")
        let line = try #require(server.log.split(separator: "\n").first { $0.contains("live view on http://") })
        return String(try #require(line.split(separator: " ").last))
    }

    @Test func thePageShowsTheClusterAndItsClicksChangeIt() throws {
        let server = try ServerProcess()
        let url = try httpURL(of: server)
        let browser = try Browser()
        try browser.open(url)

        // Three nodes and a leader.
        var leader = -1
        let shown = try waitFor(seconds: 20) {
            let count = try browser.run("return document.querySelectorAll('#nodes .node').length") as? Int
            leader = Int(try browser.run("return document.body.dataset.leader || ''") as? String ?? "") ?? -1
            return count == 3 && leader >= 0
        }
        #expect(shown, "the page never showed three nodes and a leader")
        let port = try #require(URL(string: url)?.port)
        func write(_ key: String) throws {
            let answer = try BlockingHTTP.exchange(method: "PUT", port: port, path: "/v1/kv/\(key)", body: Data("v".utf8), contentType: "text/plain")
            #expect(answer.status == 200)
        }
        for number in 0..<20 { try write("before\(number)") }
        #expect(try browser.run("return document.querySelector('#nodes .node[data-role=leader]').dataset.id") as? String == String(leader))

        // Click the leader, then Kill: it is drawn down, and a new leader appears within seconds.
        try browser.click("#nodes .node[data-id='\(leader)']")
        try browser.click("#menu button[data-action='kill']")
        let replaced = try waitFor(seconds: 15) {
            let role = try browser.run("return document.querySelector(\"#nodes .node[data-id='\(leader)']\").dataset.role") as? String
            let now = Int(try browser.run("return document.body.dataset.leader || ''") as? String ?? "") ?? -1
            return role == "down" && now >= 0 && now != leader
        }
        #expect(replaced, "the killed leader is drawn down and another node leads")
        for number in 0..<8 { try write("after\(number)") }

        // Pause, cause traffic, step: what is drawn changes with each delivered message.
        try browser.click("#pause")
        #expect(try waitFor(seconds: 10) { try browser.run("return document.body.dataset.paused") as? String == "true" })
        let writer = try HTTPWriterInBackground(url: url, key: "stepped")
        let held = try waitFor(seconds: 10) {
            (Int(try browser.run("return document.getElementById('held-count').textContent") as? String ?? "0") ?? 0) > 0
        }
        #expect(held, "the write's messages are shown held")
        let before = try browser.run("return document.getElementById('held-layer').innerHTML") as? String
        try browser.screenshot(to: screenshotPath())
        try browser.click("#step")
        #expect(try waitFor(seconds: 10) {
            try browser.run("return document.getElementById('held-layer').innerHTML") as? String != before
        }, "stepping delivered a message and the drawing changed")
        try browser.click("#resume")
        #expect(waitFor(seconds: 15) { writer.answer != nil }, "after resume the paused write completes")
        #expect(writer.answer?.contains(#""status":"ok""#) == true)
    }

    /// Where the screenshot goes: `RAFTKV_SCREENSHOT` when set (how docs/console.png was made),
    /// else a temporary file.
    func screenshotPath() -> String {
        ProcessInfo.processInfo.environment["RAFTKV_SCREENSHOT"] ?? NSTemporaryDirectory() + "raftkv-console-\(UUID().uuidString).png"
    }
}

/// A PUT through the HTTP API on another thread (it waits while the cluster is paused).
final class HTTPWriterInBackground: @unchecked Sendable {
    private let lock = NSLock()
    private var result: String?

    var answer: String? { lock.withLock { result } }

    init(url: String, key: String) throws {
        let port = try #require(URL(string: url)?.port)
        DispatchQueue.global().async {
            let answer = try? BlockingHTTP.exchange(method: "PUT", port: port, path: "/v1/kv/" + key, body: Data("by hand".utf8),
                                                    contentType: "text/plain", timeoutSeconds: 120)
            self.lock.withLock { self.result = answer.map { String(decoding: $0.body, as: UTF8.self) } ?? "no answer" }
        }
    }
}
