import Foundation
import Testing

/// The live view in a real browser against a real server: three nodes and a leader, a click that
/// kills the leader and shows a new one, pause and step changing what is drawn; the log strips
/// drawn as the page opens, nothing wider than a 1280×720 window; the key list in byte order, a
/// page at a time; the watch panel following changes across a leader kill and a server restart.
@Suite(.serialized) struct BrowserTests {
    func httpURL(of server: ServerProcess) throws -> String {
        let found = waitFor(seconds: 10) { server.log.contains("live view on http://") }
        try #require(found, "the server printed no HTTP address: \(server.log)")
        let line = try #require(server.log.split(separator: "\n").first { $0.contains("live view on http://") })
        return String(try #require(line.split(separator: " ").last))
    }

    @Test func thePageOverHTTPSAsksForATokenOnceAndWorks() throws {
        let directory = NSTemporaryDirectory() + "raftkv-https-" + UUID().uuidString
        let made = try Binaries.run("ServerMain", ["--make-certs", directory + "/certs", "--config", "config/cluster.json"],
                                    directory: FileManager.default.currentDirectoryPath)
        #expect(made.status == 0, "\(made.stderr)")
        let server = try ServerProcess(configText: """
            {"nodes": 3, "proxy": {"host": "127.0.0.1", "port": 0}, "dataDir": "\(directory)/data", "fsync": false,
             "beatTimeMs": 20, "electionTimeoutMs": {"min": 100, "max": 200}, "http": {"port": 0},
             "auth": {"tokens": [{"token": "page-admin-token", "role": "admin"}]},
             "tls": {"cert": "\(directory)/certs/member{id}.pem", "key": "\(directory)/certs/member{id}-key.pem", "ca": "\(directory)/certs/ca.pem"}}
            """)
        defer { server.signal(SIGTERM) }
        let port = try #require(server.httpPort)
        let browser = try Browser(acceptInsecureCerts: true)
        try browser.open("https://127.0.0.1:\(port)/")
        // The page asks for a token (window.prompt): answer it as a user would.
        let asked = waitFor(seconds: 20) { (try? browser.call("GET", "/session/\(browser.session)/alert/text"))?["value"] is String }
        #expect(asked, "the page asked for a token")
        try browser.call("POST", "/session/\(browser.session)/alert/text", ["text": "page-admin-token"])
        try browser.call("POST", "/session/\(browser.session)/alert/accept", [:])
        let shown = try waitFor(seconds: 20) {
            let count = try browser.run("return document.querySelectorAll('#nodes .node').length") as? Int
            let leader = try browser.run("return document.body.dataset.leader || ''") as? String ?? ""
            return count == 3 && !leader.isEmpty
        }
        #expect(shown, "over https with the token the page shows the cluster")
        #expect(try browser.run("return location.protocol") as? String == "https:")
        #expect(try browser.run("return sessionStorage.getItem('raftkv-token')") as? String == "page-admin-token", "kept in the tab")
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
        try browser.click("#step")
        #expect(try waitFor(seconds: 10) {
            try browser.run("return document.getElementById('held-layer').innerHTML") as? String != before
        }, "stepping delivered a message and the drawing changed")
        try browser.click("#resume")
        #expect(waitFor(seconds: 15) { writer.answer != nil }, "after resume the paused write completes")
        #expect(writer.answer?.contains(#""status":"ok""#) == true)
    }

    /// The log strips have boxes within 2 s of opening the page — as the server's first browser
    /// (whose first state events carry no log tails) and again after a reload — and nothing is
    /// wider than the 1280×720 window, whichever panel is shown, even with a long key and value.
    @Test func theLogStripsAreDrawnAtOnceAndThePageFitsAProjector() throws {
        let server = try ServerProcess()
        let url = try httpURL(of: server)
        let writer = LineWriter(port: server.port)
        for number in 0..<12 { try writer.put("fit/\(number)", "value \(number)") }
        try writer.put("fit/long-" + String(repeating: "k", count: 150), String(repeating: "a long value ", count: 40))
        let browser = try Browser()
        for visit in ["first visit", "reload"] {
            try browser.open(url)
            let opened = Date()
            let drawn = try waitFor(seconds: 2) { try self.logStripsDrawn(browser) }
            let rows = try browser.run("return [...document.querySelectorAll('#logs .row')].map(r => r.querySelectorAll('.box').length)")
            #expect(drawn, "\(visit): the log strips were not drawn \(Date().timeIntervalSince(opened)) s after the page opened (boxes per row: \(rows ?? "none"))")
        }

        #expect(try browser.run("return window.innerWidth") as? Int == 1280)
        try browser.type("#keys-prefix", "fit/l")
        try browser.click("#keys-list")
        #expect(try waitFor(seconds: 10) { try self.shownKeys(browser).first?.hasPrefix("fit/long-") == true })
        try browser.click("#keys-rows tr[data-index='0']")
        try expectNothingTooWide(browser, "the client panel with a long key")
        try browser.click("#tabs [data-tab='watch']")
        try browser.type("#watch-target", "fit/")
        try browser.type("#watch-from", "1")
        try browser.click("#watch-start")
        #expect(try waitFor(seconds: 10) { try self.watchedChanges(browser).count == 13 }, "the watch from revision 1 shows the 13 puts")
        try expectNothingTooWide(browser, "the watch panel")
        try browser.click("#tabs [data-tab='events']")
        try expectNothingTooWide(browser, "the event feed")
    }

    /// Keys written through the line protocol appear in UTF-8 byte order with their revisions and
    /// the revision they were read at; Next and Back page through them with `after`; a click puts
    /// a key in the client form; a linearizable listing agrees; Refresh shows a newer write.
    @Test func theKeyListShowsTheStoreInByteOrderAPageAtATime() throws {
        let server = try ServerProcess()
        let url = try httpURL(of: server)
        let writer = LineWriter(port: server.port)
        let names = ["b", "a", "B", "é", "a1", "~", "0", "c", "Z", "d", "e"]
        var created: [String: Int] = [:]
        for name in names {
            created["list/" + name] = try writer.put("list/" + name, "value of \(name)")["createRevision"]?.intValue
        }
        try writer.put("list/a", "again")
        let lastA = try writer.put("list/a", "and again")
        let revision = try #require(try writer.put("other", "not listed")["revision"]?.intValue)
        let expected = names.map { "list/" + $0 }.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }

        let browser = try Browser()
        try browser.open(url)
        try browser.type("#keys-prefix", "list/")
        try browser.click("#keys-list")
        #expect(try waitFor(seconds: 15) { try self.shownKeys(browser) == Array(expected.prefix(8)) },
                "page 1 shows the first 8 keys in byte order: \((try? shownKeys(browser)) ?? [])")
        #expect(try browser.text("#keys-info") == "page 1 · keys 1–8 · read at rev \(revision)")
        let rowOfA = try browser.run("return [...document.querySelector(\"#keys-rows tr[data-key='list/a']\").cells].map(c => c.textContent)") as? [String]
        let createdA = try #require(created["list/a"])
        #expect(rowOfA == ["list/a", "and again", "\(createdA)", "\(lastA["modRevision"]?.intValue ?? -1)", "3"])
        #expect(try browser.run("return document.getElementById('keys-back').disabled") as? Bool == true)

        try browser.click("#keys-next")
        #expect(try waitFor(seconds: 10) { try self.shownKeys(browser) == Array(expected.dropFirst(8)) },
                "page 2 continues after the last key of page 1: \((try? shownKeys(browser)) ?? [])")
        #expect(try browser.text("#keys-info") == "page 2 · keys 9–11 · read at rev \(revision)")
        #expect(try browser.run("return document.getElementById('keys-next').disabled") as? Bool == true)
        try browser.click("#keys-back")
        #expect(try waitFor(seconds: 10) { try self.shownKeys(browser) == Array(expected.prefix(8)) }, "Back returns to page 1")

        try browser.click("#keys-rows tr[data-key='list/a1']")
        #expect(try browser.run("return document.getElementById('client-key').value") as? String == "list/a1")
        #expect(try browser.run("return document.getElementById('client-value').value") as? String == "value of a1")

        try browser.click("#keys-next")
        #expect(try waitFor(seconds: 10) { try self.shownKeys(browser).count == 3 })
        try browser.click("#keys-consistency option[value='linearizable']")
        try browser.click("#keys-list")
        #expect(try waitFor(seconds: 10) { try self.shownKeys(browser) == Array(expected.prefix(8)) }, "a linearizable listing starts again at page 1")

        try writer.put("list/00", "newer")
        #expect(try waitFor(seconds: 10) {
            try browser.run("return document.getElementById('keys-refresh').classList.contains('stale')") as? Bool == true
        }, "Refresh says the store has moved on")
        try browser.click("#keys-refresh")
        #expect(try waitFor(seconds: 10) { try self.shownKeys(browser).prefix(2) == ["list/0", "list/00"] }, "Refresh shows the new key")
    }

    /// A watch on a prefix shows the puts made while it is open, in revision order, and keeps
    /// showing new ones after the leader is killed from the node menu: each once, none missing.
    @Test func theWatchPanelShowsChangesAsTheyCommitAcrossALeaderKill() throws {
        let server = try ServerProcess()
        let url = try httpURL(of: server)
        let writer = LineWriter(port: server.port)
        let browser = try Browser()
        try browser.open(url)
        let leader = try leaderShown(browser)
        try browser.click("#tabs [data-tab='watch']")
        try browser.type("#watch-target", "w/")
        try browser.click("#watch-start")
        #expect(try waitFor(seconds: 10) { try browser.run("return document.getElementById('watch-status').className") as? String == "live" },
                "the watch is in place: \((try? browser.text("#watch-status")) ?? "")")

        var revisions: [Int] = []
        for number in 1...5 { revisions.append(try #require(try writer.put("w/\(number)", "before \(number)")["revision"]?.intValue)) }
        #expect(try waitFor(seconds: 10) { try self.watchedChanges(browser).count == 5 }, "the five puts are shown")

        try browser.click("#nodes .node[data-id='\(leader)']")
        try browser.click("#menu button[data-action='kill']")
        #expect(try waitFor(seconds: 15) { try self.leaderShown(browser, seconds: 0.1, excluding: leader) >= 0 }, "another node leads")
        for number in 6...10 { revisions.append(try #require(try writer.put("w/\(number)", "after \(number)")["revision"]?.intValue)) }
        #expect(try waitFor(seconds: 15) { try self.watchedChanges(browser).count == 10 }, "the puts after the kill are shown too")

        let changes = try watchedChanges(browser)  // newest first
        #expect(changes.map(\.revision) == revisions.reversed(), "each put once, in revision order: \(changes)")
        #expect(changes.map(\.change) == (1...10).reversed().map { "w/\($0) = " + ($0 <= 5 ? "before \($0)" : "after \($0)") })
        #expect(try browser.text("#watch-status").contains("10 events · last rev \(revisions.last ?? -1)"))
        #expect(try browser.text("#watch-badge") == "● 10")
        #expect(try waitFor(seconds: 5) { try self.logStripsCaughtUp(browser) }, "each live node's strip ends at its last entry")
        try browser.screenshot(to: screenshotPath())

        try browser.click("#watch-stop")
        try writer.put("w/11", "unseen")
        #expect(try browser.text("#watch-status").hasPrefix("stopped · 10 events"))
        #expect(try !waitFor(seconds: 0.5) { try self.watchedChanges(browser).count > 10 }, "a stopped watch shows nothing new")
    }

    /// The browser's EventSource reconnects by itself when the server restarts, sends the last
    /// revision it saw (Last-Event-ID), and the panel says so and goes on without a gap or a repeat.
    @Test func theWatchPanelResumesByItselfAfterTheServerRestarts() throws {
        let directory = NSTemporaryDirectory() + "raftkv-e2e-" + UUID().uuidString
        let config = """
            {"nodes": 3, "proxy": {"host": "127.0.0.1", "port": 0}, "dataDir": "\(directory)/data", "beatTimeMs": 20,
             "electionTimeoutMs": {"min": 100, "max": 200}, "fsync": true, "http": {"port": \(freePort())}}
            """
        var server = try ServerProcess(directory: directory, configText: config)
        let url = try httpURL(of: server)
        let browser = try Browser()
        try browser.open(url)
        _ = try leaderShown(browser)
        try browser.click("#tabs [data-tab='watch']")
        try browser.type("#watch-target", "r/")
        try browser.click("#watch-start")
        #expect(try waitFor(seconds: 10) { try browser.run("return document.getElementById('watch-status').className") as? String == "live" })
        var revisions: [Int] = []
        var writer = LineWriter(port: server.port)
        for number in 1...3 { revisions.append(try #require(try writer.put("r/\(number)", "first run")["revision"]?.intValue)) }
        #expect(try waitFor(seconds: 10) { try self.watchedChanges(browser).count == 3 })

        server.signal(SIGKILL)
        #expect(server.waitForExit(seconds: 10) != nil)
        #expect(try waitFor(seconds: 10) { try browser.text("#watch-status").hasPrefix("reconnecting…") }, "the panel shows the lost connection")
        server = try ServerProcess(directory: directory, configPath: directory + "/cluster.json")
        writer = LineWriter(port: server.port)
        for number in 4...6 { revisions.append(try #require(try writer.put("r/\(number)", "second run")["revision"]?.intValue)) }
        #expect(try waitFor(seconds: 30) { try self.watchedChanges(browser).count == 6 },
                "the watch resumed: \((try? browser.text("#watch-status")) ?? "") \((try? watchedChanges(browser)) ?? [])")
        #expect(try watchedChanges(browser).map(\.revision) == revisions.reversed())
        let markers = try browser.run("return [...document.querySelectorAll('#watch-events li.marker')].map(m => m.textContent)") as? [String] ?? []
        #expect(markers.contains("— reconnected · resuming after rev \(revisions[2]) —"), "\(markers)")
    }

    // MARK: - reading the page

    func logStripsDrawn(_ browser: Browser) throws -> Bool {
        try browser.run("""
            const rows = [...document.querySelectorAll('#logs .row')];
            return rows.length === 3 && rows.every((row) => row.querySelectorAll('.box').length > 0);
            """) as? Bool == true
    }

    /// Each live node's strip ends with the box of its last entry (the tails come a moment after
    /// the status, each node answering in its own time).
    func logStripsCaughtUp(_ browser: Browser) throws -> Bool {
        try browser.run("""
            return state.nodes.filter((node) => node.alive).every((node) => {
              const boxes = document.querySelectorAll(`#logs .row[data-id="${node.id}"] .box`);
              return boxes.length > 0 && boxes[boxes.length - 1].title.startsWith(`entry ${node.logLength},`);
            });
            """) as? Bool == true
    }

    func shownKeys(_ browser: Browser) throws -> [String] {
        try browser.run("return [...document.querySelectorAll('#keys-rows tr[data-key]')].map((row) => row.dataset.key)") as? [String] ?? []
    }

    struct WatchedChange: Equatable, CustomStringConvertible {
        var revision: Int
        var type: String
        var change: String
        var description: String { "rev \(revision) \(type) \(change)" }
    }

    /// The watch panel's changes, newest first.
    func watchedChanges(_ browser: Browser) throws -> [WatchedChange] {
        let rows = try browser.run("""
            return [...document.querySelectorAll('#watch-events li:not(.marker)')]
              .map((li) => [li.querySelector('.rev').textContent, li.querySelector('.type').textContent, li.querySelector('.change').textContent]);
            """) as? [[String]] ?? []
        return rows.map { WatchedChange(revision: Int($0[0].dropFirst("rev ".count)) ?? -1, type: $0[1], change: $0[2]) }
    }

    /// The leader the page shows (other than `excluding`), waiting up to `seconds`; -1 if none.
    @discardableResult
    func leaderShown(_ browser: Browser, seconds: Double = 20, excluding: Int? = nil) throws -> Int {
        var leader = -1
        let shown = try waitFor(seconds: seconds) {
            leader = Int(try browser.run("return document.body.dataset.leader || ''") as? String ?? "") ?? -1
            return leader >= 0 && leader != excluding
        }
        if seconds >= 1 { #expect(shown, "the page shows no leader") }
        return shown ? leader : -1
    }

    /// Nothing scrolls sideways: not the page (`scrollWidth <= innerWidth`), not the side panel
    /// or its parts (whose own overflow would hide it from the page's width: the old client form
    /// passed the page check while the side panel scrolled), and nothing in the side panel
    /// reaches past its right edge unless it is cut short on purpose.
    func expectNothingTooWide(_ browser: Browser, _ what: String) throws {
        let problems = try browser.run("""
            const problems = [];
            const root = document.documentElement;
            if (root.scrollWidth > window.innerWidth) problems.push(`the page is ${root.scrollWidth} px wide in a ${window.innerWidth} px window`);
            const side = document.getElementById('side');
            for (const box of [side, ...side.querySelectorAll('.tab, form, table, ol, #keys-pager')]) {
              if (box.offsetParent !== null && box.scrollWidth > box.clientWidth + 1) {
                problems.push(`${box.tagName.toLowerCase()}#${box.id} is ${box.scrollWidth} px wide in ${box.clientWidth} px`);
              }
            }
            const edge = side.getBoundingClientRect().right + 1;
            const clippedOnPurpose = (element) => {  // log strips drop old boxes; long text ends in "…"
              for (let up = element.parentElement; up && up !== side; up = up.parentElement) {
                if (up.classList.contains('strip') || getComputedStyle(up).textOverflow === 'ellipsis') return true;
              }
              return false;
            };
            for (const element of side.querySelectorAll('*')) {
              if (element.offsetParent === null || clippedOnPurpose(element)) continue;
              const right = element.getBoundingClientRect().right;
              if (right > edge) problems.push(`${element.tagName.toLowerCase()}#${element.id} ends at ${right}, past the panel's edge ${edge}`);
            }
            return problems;
            """) as? [String]
        #expect(problems == [], "\(what) does not fit 1280×720: \(problems ?? ["(no answer)"])")
    }

    /// Where the screenshot goes: `RAFTKV_SCREENSHOT` when set (how docs/console.png was made),
    /// else a temporary file. The watch test takes it: the watch panel after the leader was killed.
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

// MARK: - Time travel and scenarios

extension BrowserTests {
    /// A five-node server (seeded), for the scenarios.
    func fiveNodeServer(seed: Int) throws -> ServerProcess {
        let directory = NSTemporaryDirectory() + "raftkv-e2e-" + UUID().uuidString
        return try ServerProcess(directory: directory, configText: """
            {"nodes": 5, "proxy": {"host": "127.0.0.1", "port": 0}, "dataDir": "\(directory)/data", "seed": \(seed),
             "beatTimeMs": 20, "electionTimeoutMs": {"min": 100, "max": 200}, "fsync": true, "http": {"port": 0}}
            """)
    }

    /// The time-travel page, once its timeline is loaded; returns the number of steps.
    func openTimeTravel(_ browser: Browser, _ url: String, step: Int? = nil) throws -> Int {
        try browser.open(url + "replay" + (step.map { "#step=\($0)" } ?? ""))
        var steps = 0
        let loaded = try waitFor(seconds: 90) {
            steps = Int(try browser.run("return document.getElementById('tl-slider').max") as? String ?? "0") ?? 0
            let drawn = try browser.run("return document.body.dataset.step !== undefined") as? Bool == true
            return steps > 0 && drawn
        }
        try #require(loaded, "the time-travel page never loaded its timeline")
        return steps
    }

    /// The step and leader the page shows once it has drawn the step the slider is at.
    func shownStep(_ browser: Browser) throws -> (step: Int, leader: Int?) {
        var result: (Int, Int?) = (-1, nil)
        _ = try waitFor(seconds: 10) {
            let slider = Int(try browser.run("return document.getElementById('tl-slider').value") as? String ?? "") ?? -2
            let drawn = Int(try browser.run("return document.body.dataset.step || ''") as? String ?? "") ?? -1
            result = (drawn, Int(try browser.run("return document.body.dataset.leader || ''") as? String ?? ""))
            return slider == drawn
        }
        return result
    }

    @Test func draggingTheTimelineShowsTheLeaderChangeBackAndForth() throws {
        let server = try fiveNodeServer(seed: 41)
        let url = try httpURL(of: server)
        let port = try #require(URL(string: url)?.port)
        let answer = try BlockingHTTP.exchange(method: "POST", port: port, path: "/v1/request",
                                               body: Data(#"{"admin":"scenario","name":"leader-crash"}"#.utf8), timeoutSeconds: 120)
        let ran = String(decoding: answer.body, as: UTF8.self)
        #expect(ran.contains(#""status":"ok""#), "\(ran)")
        let browser = try Browser()
        let steps = try openTimeTravel(browser, url)
        #expect(steps > 50)
        // Where the leaders lead, from the page's own timeline: the first leader's term, the next's.
        let leaderMarks = try browser.run("return travel.events.filter((e) => e.kind === 'leader' && / leads term /.test(e.text)).map((e) => e.step)") as? [Int] ?? []
        try #require(leaderMarks.count >= 2, "two leaders in the recording: \(leaderMarks)")
        let firstTarget = (leaderMarks[0] + leaderMarks[1]) / 2
        let secondTarget = (leaderMarks[1] + steps) / 2

        var seen: [Int?] = []
        for target in [firstTarget, secondTarget, firstTarget, secondTarget] {
            try browser.dragSlider("#tl-slider", to: Double(target) / Double(steps))
            let shown = try shownStep(browser)
            #expect(abs(shown.step - target) <= max(3, steps / 60), "dragged to step \(shown.step), aimed at \(target)")
            let state = try #require(try JSONSerialization.jsonObject(with: BlockingHTTP.exchange(method: "GET", port: port, path: "/v1/replay/state?step=\(shown.step)").body) as? [String: Any])
            #expect(shown.leader == state["leader"] as? Int, "the page draws the leader the server replays at step \(shown.step)")
            seen.append(shown.leader)
        }
        #expect(seen[0] != nil && seen[1] != nil && seen[0] != seen[1], "the leader changes: \(seen)")
        #expect(seen[2] == seen[0] && seen[3] == seen[1], "and back, and forth again: \(seen)")

        // The arrow keys: one step, and with Shift one event.
        let before = try shownStep(browser).step
        try browser.press("\u{E012}")  // ←
        #expect(try shownStep(browser).step == before - 1)
        try browser.press("\u{E012}", shift: true)
        let event = try shownStep(browser).step
        let marks = try browser.run("return travel.events.map((e) => e.step)") as? [Int] ?? []
        #expect(marks.contains(event) && event < before - 1, "Shift+← goes to the previous event")
        #expect(try browser.text("#tab-step").contains("step \(event)"), "the step's detail is shown")
        if let path = ProcessInfo.processInfo.environment["RAFTKV_TIMETRAVEL_SCREENSHOT"] {
            try browser.dragSlider("#tl-slider", to: Double(leaderMarks[1]) / Double(steps))
            _ = try shownStep(browser)
            try browser.screenshot(to: path)
        }
    }

    /// Figure 8 as a teacher would show it: run from the page's Scenarios menu, then scrubbed
    /// back in time travel to the step where the old term's entry stands on a majority.
    @Test func figure8RunFromThePageThenScrubbedBack() throws {
        let server = try fiveNodeServer(seed: 43)
        let url = try httpURL(of: server)
        let browser = try Browser()
        try browser.open(url)
        _ = try leaderShown(browser, seconds: 20)
        try browser.click("#scenarios-open")
        #expect(try waitFor(seconds: 10) { try browser.run("return !!document.querySelector('#menu button[data-scenario=figure8]')") as? Bool == true })
        try browser.click("#menu button[data-scenario=figure8]")
        let finished = try waitFor(seconds: 120) {
            let outcome = try browser.run("return document.body.dataset.scenario || ''") as? String
            return outcome == "passed" || outcome == "failed"
        }
        #expect(finished)
        let info = try browser.text("#info-text")
        #expect(try browser.run("return document.body.dataset.scenario") as? String == "passed", "\(info)")
        #expect(try browser.text("#info-text").contains("§5.4.2"))
        #expect(try browser.text("#events").contains("scenario figure8: (c)"), "the scenario is narrated in the event feed")

        let steps = try openTimeTravel(browser, url)
        let target = try #require(try browser.run("return (travel.events.find((e) => e.text.startsWith('(c) entry')) || {}).step") as? Int)
        // Scrub back from the end to that step.
        try browser.dragSlider("#tl-slider", to: Double(target) / Double(steps))
        var shown = try shownStep(browser)
        for _ in 0..<40 where shown.step != target {
            try browser.press(shown.step > target ? "\u{E012}" : "\u{E014}")
            shown = try shownStep(browser)
        }
        #expect(shown.step == target)
        // Four logs hold the old term's entry; S1 leads a later term and has not committed it.
        let logs = try browser.run("""
            return state.nodes.map((n) => ({ id: n.id, alive: n.alive, role: n.role, term: n.term, commit: n.commitIndex,
                                               terms: state.logs[String(n.id)] ? state.logs[String(n.id)].terms : null }));
            """) as? [[String: Any]] ?? []
        let leader = try #require(logs.first { $0["role"] as? String == "leader" })
        let leaderTerms = leader["terms"] as? [Int] ?? []
        try #require(leaderTerms.count >= 2)
        let oldTerm = leaderTerms[leaderTerms.count - 2]
        let holders = logs.filter { ($0["terms"] as? [Int])?.count ?? 0 >= leaderTerms.count - 1 && ($0["terms"] as? [Int])?[leaderTerms.count - 2] == oldTerm }
        #expect(holders.count >= 3, "the old term's entry is on a majority: \(logs)")
        #expect((leader["term"] as? Int ?? 0) > oldTerm && (leader["commit"] as? Int ?? 99) < leaderTerms.count - 1, "and not committed: \(leader)")
        try browser.click("[data-tab=events]")
        let current = try browser.run("return [...document.querySelectorAll('#events li.current')].map((li) => li.textContent)") as? [String] ?? []
        #expect(current.contains { $0.contains("(c) entry") }, "the event feed shows the step's narration: \(current)")
        try browser.screenshot(to: ProcessInfo.processInfo.environment["RAFTKV_FIGURE8_SCREENSHOT"]
                               ?? NSTemporaryDirectory() + "raftkv-figure8-\(UUID().uuidString).png")
    }
}

extension Browser {
    /// Drags the range input `selector`'s thumb to `fraction` of its track, as a user would.
    func dragSlider(_ selector: String, to fraction: Double) throws {
        let id = try element(selector)
        let box = try run("const r = document.querySelector(arguments[0]).getBoundingClientRect(); return [r.left, r.width, r.top, r.height];", [selector]) as? [Double] ?? []
        try #require(box.count == 4)
        let value = Double(try run("return document.querySelector(arguments[0]).value / Math.max(1, document.querySelector(arguments[0]).max)", [selector]) as? Double ?? 0)
        let thumb = 16.0
        func offset(_ at: Double) -> Int { Int((thumb / 2 + (box[1] - thumb) * min(1, max(0, at))) - box[1] / 2) }
        let origin = ["element-6066-11e4-a52e-4f735466cecf": id]
        let actions: [[String: Any]] = [
            ["type": "pointerMove", "origin": origin, "x": offset(value), "y": 0, "duration": 0],
            ["type": "pointerDown", "button": 0],
            ["type": "pointerMove", "origin": origin, "x": (offset(value) + offset(fraction)) / 2, "y": 0, "duration": 150],
            ["type": "pointerMove", "origin": origin, "x": offset(fraction), "y": 0, "duration": 150],
            ["type": "pointerUp", "button": 0],
        ]
        try call("POST", "/session/\(session)/actions", ["actions": [["type": "pointer", "id": "mouse", "parameters": ["pointerType": "mouse"], "actions": actions]]])
        try call("DELETE", "/session/\(session)/actions")
    }

    /// Presses a key on the page (WebDriver key codes: "\u{E012}" ←, "\u{E014}" →), with Shift if asked.
    func press(_ key: String, shift: Bool = false) throws {
        var actions: [[String: Any]] = []
        if shift { actions.append(["type": "keyDown", "value": "\u{E008}"]) }
        actions += [["type": "keyDown", "value": key], ["type": "keyUp", "value": key]]
        if shift { actions.append(["type": "keyUp", "value": "\u{E008}"]) }
        try call("POST", "/session/\(session)/actions", ["actions": [["type": "key", "id": "keyboard", "actions": actions]]])
        try call("DELETE", "/session/\(session)/actions")
    }
}
