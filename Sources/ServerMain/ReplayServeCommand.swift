#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import HTTPServer
import JSONText
import RuntimeSupport
import TimeTravelFront

/// `ServerMain --replay DIR... --http-port P`: replays the recording once through the real
/// engines (with every check), indexes every step, and serves the page in time-travel mode on
/// 127.0.0.1:P — a timeline of the run's events to drag or step through — with the same states
/// at `GET /v1/replay` and `GET /v1/replay/state?step=S`. Runs until Ctrl-C.
enum ReplayServeCommand {
    static func run(directories: [String], port: Int) -> Int32 {
        print("indexing the recording in \(directories.joined(separator: ", ")) for time travel…")
        let started = MonotonicClock.now()
        let view: ReplayView
        do {
            view = try ReplayView.load(directories: directories, progress: { steps in
                if steps % 20_480 == 0 { print("  \(ReplayCommand.grouped(steps)) steps") }
            })
        } catch {
            FileHandleStderr.write("ServerMain: \(error)\n")
            return 2
        }
        let travel = view.travel
        let seconds = Double((MonotonicClock.now() - started) / 1_000_000) / 1000
        print("\(ReplayCommand.grouped(travel.steps)) steps from \(travel.nodeIDs.count) node\(travel.nodeIDs.count == 1 ? "" : "s"), \(travel.events.count) marked events, indexed in \(seconds) s")
        if let problem = travel.summary.problem {
            print("PROBLEM: \(problem) — the timeline ends there")
        } else if travel.summary.finished {
            print("the replay matched the recording exactly, and no safety property broke")
        }
        let listener = HTTPListener(host: "127.0.0.1", port: port, handler: ReplayPageHandler(service: ReplayService(view: view)),
                                    bodyLimit: 1 << 16, errorBody: { _, message in
                                        "{\"status\":\"error\",\"code\":\"bad_request\",\"error\":\(JSONWriter.quoted(message))}"
                                    })
        do {
            try listener.start()
        } catch {
            FileHandleStderr.write("ServerMain: --http-port \(port): \(error)\n")
            return 2
        }
        print("time travel on http://127.0.0.1:\(listener.port)/ (drag the timeline, or ← → a step, Shift+← → an event); Ctrl-C stops")
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
            source.setEventHandler {
                listener.stop()
                exit(0)
            }
            source.resume()
            return source
        }
        withExtendedLifetime(sources) { dispatchMain() }
    }
}
