/// The live view of the cluster: one HTML page, its script and its style, written here and served
/// from the binary (no library, no CDN). The page draws what `/v1/events` sends and acts through
/// `/v1/request`; it holds no Raft logic of its own.
public enum ConsolePage {
    public static var html: String { consoleHTML }
    /// The script's parts in one file: the core (connection, ring, animation), the controls (menus,
    /// buttons, client form, tabs), the log strips, the key list and the watch panel; the last
    /// line starts the page, once every part is defined.
    public static let script = [consoleScript, consoleAuthScript, consoleControlsScript, consoleLogsScript, consoleKeysScript, consoleWatchScript,
                                consoleTimeTravelScript, consoleScenariosScript, "start();\n"]
        .joined(separator: "\n")
    public static var style: String { consoleStyle }
    /// The same page in time-travel mode: it draws a recorded run, step by step, from `/v1/replay`.
    public static var replayHTML: String {
        consoleHTML.replacing("<body>", with: "<body data-mode=\"replay\">")
            .replacing("<title>RaftKV — live</title>", with: "<title>RaftKV — time travel</title>")
    }
}
