import Foundation
import Testing

/// A WebDriver session on headless Chromium (Debian's `chromium` with `chromium-driver`, which
/// `.ci/run` installs when missing), spoken to over chromedriver's HTTP API.
final class Browser {
    let driver = Process()
    let port = freePort()
    var session = ""

    /// `acceptInsecureCerts`: trust a server whose certificate comes from a CA of its own (a test's).
    init(acceptInsecureCerts: Bool = false) throws {
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
        let created = try call("POST", "/session", ["capabilities": ["alwaysMatch": ["browserName": "chrome", "acceptInsecureCerts": acceptInsecureCerts, "goog:chromeOptions": options]]])
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
        let id = try element(selector)
        let clicked = try call("POST", "/session/\(session)/element/\(id)/click", [:])
        if let value = clicked["value"] as? [String: Any], value["error"] != nil {
            Issue.record("clicking \(selector) failed: \(value)")
        }
    }

    /// Types `text` into the field `selector` picks, after clearing it (WebDriver element send keys).
    func type(_ selector: String, _ text: String) throws {
        let id = try element(selector)
        try call("POST", "/session/\(session)/element/\(id)/clear", [:])
        let typed = try call("POST", "/session/\(session)/element/\(id)/value", ["text": text])
        if let value = typed["value"] as? [String: Any], value["error"] != nil {
            Issue.record("typing into \(selector) failed: \(value)")
        }
    }

    /// The WebDriver id of the element `selector` picks.
    func element(_ selector: String) throws -> String {
        let found = try call("POST", "/session/\(session)/element", ["using": "css selector", "value": selector])
        let element = try #require(found["value"] as? [String: Any], "no element \(selector): \(found)")
        return try #require(element.values.first as? String)
    }

    /// The text of the element `selector` picks ("" when there is none).
    func text(_ selector: String) throws -> String {
        try run("const e = document.querySelector(arguments[0]); return e ? e.textContent : ''", [selector]) as? String ?? ""
    }

    func screenshot(to path: String) throws {
        let answer = try call("GET", "/session/\(session)/screenshot")
        let encoded = try #require(answer["value"] as? String)
        try #require(Data(base64Encoded: encoded)).write(to: URL(fileURLWithPath: path))
    }
}
