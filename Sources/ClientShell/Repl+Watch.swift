#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import JSONText
import KVWire
import KVClient
import KVRecipes

/// follow, lease, lock and elect: commands that run until something stops them. Events, leases
/// and leaders are printed for people when standard output is a terminal, as JSON lines
/// otherwise; what happens to the connection goes to standard error.
extension Repl {
    /// How standard input stops a long-running command here.
    var inputMode: Interruption.InputMode {
        if interactive { return .keys }
        return commandLine ? Interruption.commandLineMode : .nextLine
    }

    var stopHint: String {
        switch inputMode {
        case .keys: return "Enter, q or Ctrl-C stops"
        case .nextLine: return "the next line of input, or its end, stops"
        case .endOfInput: return "Ctrl-C or end of input stops"
        case .none: return "Ctrl-C stops"
        }
    }

    /// Output for people (standard output is a terminal), or JSON lines.
    var readable: Bool { Terminal.outputIsTTY }

    /// Runs `body` with an interruption for this session (and, at the prompt, the terminal in
    /// raw mode so that Enter, q and Ctrl-C reach it as keys).
    func interruptible<T>(input: Interruption.InputMode? = nil, _ body: (Interruption) -> T) -> T {
        let mode = input ?? inputMode
        let interruption = Interruption(input: mode)
        let saved = mode == .keys ? Terminal.enterRawMode() : nil
        defer {
            Terminal.restore(saved)
            interruption.finish()
        }
        return body(interruption)
    }

    // MARK: follow

    func follow(_ target: WatchTarget, from: Int64?) -> Next {
        fflush(nil)
        let stream = WatchStream(host: host, port: port, target: target, fromRevision: from, notice: { printError($0) })
        let outcome = interruptible { interruption in
            stream.run(interruption, connection: commandLine ? connection : nil, started: { revision in
                let start = from.map { "from revision \($0)" } ?? "from revision \(revision + 1) on"
                printError("following \(target.described) \(start) (store revision \(revision)); \(stopHint)")
            }) { events, _ in
                let time = Renderers.clockTime()
                var text = ""
                for event in events {
                    text += (readable ? Renderers.eventLine(event, time: time, color: color) : Renderers.eventJSON(event)) + "\n"
                }
                Terminal.write(text)
                return true
            }
        }
        let last = stream.nextRevision.map { "; the next revision would be \($0)" } ?? ""
        switch outcome {
        case .stopped(let why):
            printError("stopped following (\(why))\(last)")
            return .keepGoing
        case .compacted(let oldest, let asked):
            printError("the server no longer keeps the changes before revision \(oldest)"
                       + (asked.map { " (asked from revision \($0))" } ?? "")
                       + ": follow again with --from \(oldest) or later, or read what is there now with range or getall")
            return .failed
        case .failed(let why):
            printError("follow stopped: \(why)")
            return .failed
        }
    }

    // MARK: lease

    mutating func lease(_ command: LeaseCommand) -> Next {
        switch command {
        case .grant(let ttl):
            guard let (line, answer) = writeAnswer(ClientRequest(.leaseGrant(ttlMs: ttl))) else { return .stop(1) }
            guard let answer, answer["status"]?.stringValue == "ok", let id = answer["lease"]?.intValue else {
                print(line)  // an error answer, printed as every command prints one
                return .keepGoing
            }
            grantedLeases.append((Int64(id), Int64(answer["ttlMs"]?.intValue ?? Int(ttl))))
            print(readable ? Renderers.leaseGranted(answer) : line)
        case .revoke(let id):
            guard let (line, answer) = writeAnswer(ClientRequest(.leaseRevoke(id))) else { return .stop(1) }
            guard let answer, answer["status"]?.stringValue == "ok" else {
                print(line)
                return .keepGoing
            }
            print(readable ? Renderers.leaseRevoked(id, answer) : line)
        case .info(let id):
            guard let line = exchange(RequestEncoder.line(ClientRequest(.leaseInfo(id)))) else { return .stop(1) }
            guard let answer = try? JSONParser.parse(line).objectValue, answer["status"]?.stringValue == "ok" else {
                print(line)
                return .keepGoing
            }
            print(readable ? Renderers.leaseInfo(answer) : line)
        case .list:
            // Every live lease, from the leader; a server without `lease_list` (an older build)
            // answers bad_request, and the leases this process granted are listed instead.
            guard let listed = exchange(RequestEncoder.line(ClientRequest(.leaseList))) else { return .stop(1) }
            if let answer = try? JSONParser.parse(listed).objectValue, answer["code"]?.stringValue != "bad_request" {
                print(readable && answer["status"]?.stringValue == "ok" ? Renderers.leaseList(answer) : listed)
                return .keepGoing
            }
            var rows: [(id: Int64, ttlMs: Int64, info: JSONObject?)] = []
            for (id, ttl) in grantedLeases {
                guard let line = exchange(RequestEncoder.line(ClientRequest(.leaseInfo(id)))) else { return .stop(1) }
                let answer = try? JSONParser.parse(line).objectValue
                let info = answer?["status"]?.stringValue == "ok" ? answer : nil
                rows.append((id, ttl, info))
                if !readable {
                    // One JSON line per lease; one the server no longer knows says so with its id.
                    print(info != nil ? line : #"{"lease":\#(id),"status":"error","code":"not_found","error":"expired or revoked"}"#)
                }
            }
            if readable { print(Renderers.leaseTable(rows)) }
            if !readable && rows.isEmpty {
                printError("no lease granted by this ClientMain yet (the server has no request that lists every lease)")
            }
        case .keepAlive(let id):
            return keepAlive(id)
        }
        return .keepGoing
    }

    /// Sends a write with the session (again with the same seq when answered timeout): the
    /// answer's line and object, or nil (after saying why) when the connection failed.
    mutating func writeAnswer(_ request: ClientRequest) -> (String, JSONObject?)? {
        do {
            guard let line = try session.send(request, over: connection, note: printError) else {
                printError("the server closed the connection")
                return nil
            }
            return (line, (try? JSONParser.parse(line))?.objectValue)
        } catch {
            printError("\(error)")
            return nil
        }
    }

    /// `lease keepalive ID`: a keepalive every third of the lease's TTL until stopped, each
    /// answer printed; over a connection of its own that is opened again when it drops.
    func keepAlive(_ id: Int64) -> Next {
        let client = RecipeClient(host: host, port: port)
        guard let info = client.ask(ClientRequest(.leaseInfo(id))) else {
            printError("lease \(id): \(client.problem)")
            return .failed
        }
        guard info["status"]?.stringValue == "ok", let ttl = info["ttlMs"]?.intValue else {
            printError("lease \(id): \(Campaign.describe(info))")
            return .failed
        }
        let period = max(100, ttl / 3)
        printError("keeping lease \(id) alive: a keepalive every \(Durations.text(milliseconds: Int64(period))) (TTL \(Durations.text(milliseconds: Int64(ttl)))); \(stopHint)")
        return interruptible { interruption in
            while true {
                guard let answer = client.ask(ClientRequest(.leaseKeepAlive(id)), seconds: Double(ttl) / 1000, interruption: interruption) else {
                    if let why = interruption.reason {
                        printError("stopped keeping lease \(id) alive (\(why)); it ends within \(Durations.text(milliseconds: Int64(ttl))) unless kept alive again")
                        return .keepGoing
                    }
                    printError("lease \(id): no keepalive answered for its TTL (\(client.problem)); it may have expired")
                    return .failed
                }
                guard answer["status"]?.stringValue == "ok" else {
                    printError("lease \(id) can no longer be kept alive: \(Campaign.describe(answer))")
                    return .failed
                }
                var writer = JSONWriter()
                writer.value(.object(answer))
                Terminal.write((readable ? Renderers.leaseKeptAlive(answer, time: Renderers.clockTime()) : writer.text) + "\n")
                if case .stop(let why) = interruption.wait(for: nil, timeoutMs: period) {
                    printError("stopped keeping lease \(id) alive (\(why)); it ends within \(Durations.text(milliseconds: Int64(ttl))) unless kept alive again")
                    return .keepGoing
                }
            }
        }
    }

    // MARK: lock and election

    func recipe(_ command: RecipeCommand) -> Next {
        fflush(nil)
        switch command {
        case .lock(let name, let ttl, let run):
            return campaign(command.prefix, value: "\(WriteSession.hostName) pid \(getpid())", ttlMs: ttl, running: run,
                            won: { key, lease, revision in "acquired \(key) (lock \(name), lease \(lease), fencing token \(revision))" },
                            ended: { key, said in "released \(key) (\(said))" })
        case .elect(let name, let value, let ttl):
            return campaign(command.prefix, value: value, ttlMs: ttl,
                            won: { key, lease, revision in "leader of \(name) as \(value) (\(key), lease \(lease), revision \(revision))" },
                            ended: { key, said in "resigned: \(key) is gone (\(said))" })
        case .observe(let name):
            let observer = ElectionObserver(client: RecipeClient(host: host, port: port), prefix: command.prefix, notice: { printError($0) })
            printError("observing election \(name) (keys \(command.prefix)); \(stopHint)")
            let outcome = interruptible { interruption in
                observer.run(interruption) { leader, revision in
                    Terminal.write((readable ? Renderers.leaderLine(leader, time: Renderers.clockTime())
                                    : Renderers.leaderJSON(leader, revision: revision)) + "\n")
                }
            }
            switch outcome {
            case .stopped(let why):
                printError("stopped observing (\(why))")
                return .keepGoing
            case .compacted:
                return .failed  // not returned: the observer reads again
            case .failed(let why):
                printError("observe stopped: \(why)")
                return .failed
            }
        }
    }

    /// Campaigns (lock or election) under `prefix`, says `won` once it holds, and holds until
    /// stopped; then resigns (revokes the lease) and says `ended`.
    private func campaign(_ prefix: String, value: String, ttlMs: Int64, running command: [String] = [],
                          won: (String, Int64, Int64) -> String, ended: (String, String) -> String) -> Next {
        let campaign = Campaign(client: RecipeClient(host: host, port: port), prefix: prefix, value: value, ttlMs: ttlMs,
                                notice: { printError($0) })
        // With a command, standard input is the command's: only a signal (or the command's end) stops.
        return interruptible(input: command.isEmpty ? nil : Interruption.InputMode.none) { interruption in
            switch campaign.acquire(interruption) {
            case .acquired(let key, let revision, let lease):
                Terminal.write(won(key, lease, revision) + "\n")
                if !command.isEmpty {
                    return runHolding(command, campaign, key: key, interruption, ended: ended)
                }
                printError("holding it; \(stopHint) and gives it up (a process that dies loses it within \(Durations.text(milliseconds: ttlMs)))")
                if let lost = campaign.hold(interruption) {
                    campaign.resign()
                    Terminal.write("lost \(key): \(lost)\n")
                    return .failed
                }
                Terminal.write(ended(key, campaign.resign()) + "\n")
                return .keepGoing
            case .stopped(let why):
                printError("stopped waiting (\(why)); \(campaign.resign())")
                return .keepGoing
            case .lost(let why):
                campaign.resign()
                printError("lost our place: \(why)")
                return .failed
            case .failed(let why):
                printError("\(why); \(campaign.resign())")
                return .failed
            }
        }
    }

    /// `lock NAME -- COMMAND`: runs the command while the lock is held, then releases it. Its exit
    /// status becomes ClientMain's (on the command line). Ctrl-C or SIGTERM to ClientMain, or
    /// the lock lost, send SIGTERM to the command first.
    private func runHolding(_ command: [String], _ campaign: Campaign, key: String, _ interruption: Interruption,
                            ended: (String, String) -> String) -> Next {
        guard let child = Spawn.start(command) else {
            printError("cannot run \(command[0]): \(String(cString: strerror(errno)))")
            Terminal.write(ended(key, campaign.resign()) + "\n")
            return .failed
        }
        var status: Int32?
        var lost: String?
        while status == nil {
            status = Spawn.exitStatus(of: child, wait: false)
            if status != nil { break }
            if case .stop(let why) = interruption.wait(for: nil, timeoutMs: 100) {
                lost = campaign.keeper?.lost
                printError(lost.map { "the lock is lost (\($0)): stopping \(command[0])" } ?? "stopping \(command[0]) (\(why))")
                kill(child, SIGTERM)
                status = Spawn.exitStatus(of: child, wait: true)
            }
        }
        let code = status ?? 1
        if let lost {
            campaign.resign()
            Terminal.write("lost \(key): \(lost)\n")
            return .failed
        }
        Terminal.write(ended(key, campaign.resign()) + "\n")
        if commandLine { return .stop(code) }
        printError("\(command[0]) exited with status \(code)")
        return .keepGoing
    }
}

/// Starting a command and waiting for it.
enum Spawn {
    /// Starts `words` (found on PATH), with this process's environment and standard streams.
    static func start(_ words: [String]) -> pid_t? {
        var argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) }
        argv.append(nil)
        defer { for item in argv { free(item) } }
        var pid: pid_t = 0
        let failed = posix_spawnp(&pid, words[0], nil, nil, argv, environ)
        if failed != 0 {
            errno = failed
            return nil
        }
        return pid
    }

    /// The exit status of `pid` (128 + the signal when a signal ended it), or nil while it runs
    /// (`wait`: waits until it ends).
    static func exitStatus(of pid: pid_t, wait: Bool) -> Int32? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, wait ? 0 : WNOHANG)
            if result == pid { break }
            if result == 0 { return nil }
            if errno != EINTR { return 1 }
        }
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }
}
