#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import JSONText
import KVClient

/// Reads commands and prints answers. On a terminal: a prompt with line editing and a history
/// that survives restarts, coloured tables, `watch` refreshing in place. In a pipe: reads to
/// the end, prints every answer (tables in plain text), exit status 0.
public struct Repl {
    let connection: ClientConnection
    let interactive: Bool
    let color: Bool
    var history: History
    /// Where the server is, for commands that open connections of their own (`check`).
    let host: String
    let port: Int
    /// This client's id and the `seq` of its writes (exactly-once retries).
    public internal(set) var session: WriteSession
    /// The leases this client granted, with their TTLs (`lease list`).
    var grantedLeases: [(id: Int64, ttlMs: Int64)] = []
    /// The command came on ClientMain's command line (`ClientMain follow --prefix p`): a command
    /// that runs until stopped ends with standard input, which nothing else reads.
    public var commandLine = false

    public init(connection: ClientConnection, host: String = "127.0.0.1", port: Int = 7070, interactive: Bool, color: Bool,
                historyPath: String?, session: WriteSession = WriteSession()) {
        self.connection = connection
        self.session = session
        self.host = host
        self.port = port
        self.interactive = interactive
        self.color = color
        self.history = History(path: interactive ? historyPath : nil)
    }

    /// Runs until end of input or `exit`; returns the process exit status.
    public mutating func run() -> Int32 {
        if interactive {
            print("Connected. Type help for commands, exit to leave.")
        }
        let editor = LineEditor(prompt: "kv> ")
        while true {
            let line: String?
            if interactive {
                line = editor.readLine(history: history.entries)
            } else {
                line = readLine(strippingNewline: true)
            }
            guard var line else { break }
            do {
                let expanded = try history.expand(line)
                if expanded != line {
                    print(expanded)
                    line = expanded
                }
            } catch {
                printError("\(error)")
                continue
            }
            let command: ClientCommand
            do {
                command = try ShortCommandParser.parse(line)
            } catch {
                printError("\(error)")
                continue
            }
            if command != .nothing && command != .history { history.add(line) }
            let next = execute(command)
            // Piped, each answer goes out as soon as it is known (a script may be waiting for it).
            if !interactive { fflush(nil) }
            switch next {
            case .keepGoing, .failed: continue
            case .stop(let status): return status
            }
        }
        return 0
    }

    /// Runs one command (given on ClientMain's command line) and returns the exit status: 0 when
    /// it did what it was asked (an error answer is printed and still 0, as in a session), 1 when
    /// the connection was lost or a command that runs until stopped could not go on.
    public mutating func run(_ command: ClientCommand) -> Int32 {
        commandLine = true
        let next = execute(command)
        fflush(nil)
        switch next {
        case .keepGoing: return 0
        case .failed: return 1
        case .stop(let status): return status
        }
    }

    /// What follows a command: the next one, the end of the session with this status, or (a
    /// command that could not go on, like a follow whose history is gone) the next one at the
    /// prompt but exit status 1 on ClientMain's command line.
    enum Next { case keepGoing, stop(Int32), failed }

    mutating func execute(_ command: ClientCommand) -> Next {
        switch command {
        case .nothing:
            return .keepGoing
        case .help:
            print(ShortCommandParser.helpText)
        case .history:
            print(history.listing)
        case .clear:
            if Terminal.outputIsTTY { Terminal.write("\u{1B}[H\u{1B}[2J") }
        case .exit:
            return .stop(0)
        case .send(let request, let display):
            guard let response = exchange(request) else { return .stop(1) }
            show(response, as: display)
            if response == "{\"close\":\"ok\"}" {
                printError("the server closed the idle connection")
                return .stop(0)
            }
        case .write(let request, let display):
            let response: String?
            do {
                response = try session.send(request, over: connection, note: printError)
            } catch {
                printError("\(error)")
                return .stop(1)
            }
            guard let response else {
                printError("the server closed the connection")
                return .stop(1)
            }
            show(response, as: display)
            if response == "{\"close\":\"ok\"}" {
                printError("the server closed the idle connection")
                return .stop(0)
            }
        case .getAll(let query):
            let outcome = interactive && Terminal.outputIsTTY ? pagedGetAll(query) : streamGetAll(query)
            if !outcome { return .stop(1) }
        case .snapshot(let node):
            let nodes: [Int]
            if let node {
                nodes = [node]
            } else {
                guard let status = exchange(#"{"admin":"status"}"#) else { return .stop(1) }
                nodes = (try? JSONParser.parse(status).objectValue?["nodes"]?.arrayValue)??.indices.map { $0 } ?? []
            }
            for number in nodes {
                guard let response = exchange(#"{"admin":"snapshot","node":\#(number)}"#) else { return .stop(1) }
                if let object = try? JSONParser.parse(response).objectValue, let index = object["index"]?.intValue {
                    print("node \(number): snapshot through entry \(index)")
                } else {
                    print(response)
                }
            }
        case .watch(let seconds):
            return watch(seconds: seconds) ? .keepGoing : .stop(1)
        case .follow(let target, let from):
            return follow(target, from: from)
        case .lease(let command):
            return lease(command)
        case .recipe(let command):
            return recipe(command)
        case .check(let seconds, let clients, let keys):
            print("checking: \(clients) connections write, read (linearizable), cas and delete \(keys) keys for \(seconds) s…")
            let outcome = CheckRun(host: host, port: port, seconds: seconds, clients: clients, keys: keys).run()
            print(outcome.report)
            if let html = outcome.html {
                let path = "check-report.html"
                if let file = fopen(path, "w") {
                    _ = html.withCString { fputs($0, file) }
                    fclose(file)
                    print("timeline written to \(path)")
                }
            }
        }
        return .keepGoing
    }

    /// Sends a request and returns its answer, or nil (after saying why) when the connection failed.
    func exchange(_ request: String) -> String? {
        do {
            guard let response = try connection.request(request) else {
                printError("the server closed the connection")
                return nil
            }
            return response
        } catch {
            printError("\(error)")
            return nil
        }
    }

    func show(_ response: String, as display: ResponseDisplay) {
        guard display != .raw, let object = try? JSONParser.parse(response).objectValue, object["status"] == .string("ok") else {
            print(response)
            return
        }
        switch display {
        case .raw: print(response)
        case .statusTable: print(Renderers.statusTable(object, color: color))
        case .clusterSummary: print(Renderers.clusterSummary(object))
        case .logSizes: print(Renderers.logSizes(object))
        case .logEntries: print(Renderers.logEntries(object))
        case .metrics: print(Renderers.metrics(object))
        case .members: print(Renderers.members(object))
        case .heldMessages: print(Renderers.heldMessages(object))
        case .traces: print(Renderers.traces(object))
        case .scenarios: print(Renderers.scenarios(object))
        case .rangeTable(let query): print(Renderers.rangeTable(object, query: query))
        case .transaction(let transaction): print(Renderers.transaction(object, transaction))
        }
    }

    /// The status table, redrawn in place every half second until Enter, q or Ctrl-C (or for
    /// `seconds`). The terminal is left as it was found.
    func watch(seconds: Double?) -> Bool {
        let tty = interactive && Terminal.outputIsTTY
        let saved = tty ? Terminal.enterRawMode() : nil
        if tty { Terminal.write("\u{1B}[?25l") }
        defer {
            if tty { Terminal.write("\u{1B}[?25h") }
            Terminal.restore(saved)
        }
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        var previousLines = 0
        while true {
            guard let response = exchange(#"{"admin":"status"}"#) else { return false }
            var text: String
            if let object = try? JSONParser.parse(response).objectValue, object["status"] == .string("ok") {
                text = Renderers.statusTable(object, color: color)
            } else {
                text = response
            }
            if tty {
                text = "watching every 0.5 s — Enter or Ctrl-C stops\n" + text
                if previousLines > 0 { Terminal.write("\u{1B}[\(previousLines)A\r\u{1B}[J") }
                Terminal.write(text.replacingNewlines + "\r\n")
                previousLines = text.split(separator: "\n", omittingEmptySubsequences: false).count
            } else {
                print(text)
            }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let elapsed = Double(now.tv_sec - start.tv_sec) + Double(now.tv_nsec - start.tv_nsec) / 1e9
            if let seconds, elapsed >= seconds { return true }
            if tty {
                if let key = Terminal.readByte(timeoutMs: 500), key == 13 || key == 10 || key == 3 || key == UInt8(ascii: "q") {
                    return true
                }
            } else {
                usleep(500_000)
                if seconds == nil { return true }  // without a terminal, one table unless a duration is given
            }
        }
    }

    func printError(_ text: String) {
        var bytes = Array(("ClientMain: " + text + "\n").utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}

extension String {
    /// Raw mode turns off output translation of "\n" on some terminals; write "\r\n" explicitly.
    var replacingNewlines: String {
        split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
    }
}
