/// The live view of the cluster: one HTML page, its script and its style, written here and served
/// from the binary (no library, no CDN). The page draws what `/v1/events` sends and acts through
/// `/v1/request`; it holds no Raft logic of its own.
public enum ConsolePage {
    public static var html: String { consoleHTML }
    public static var script: String { consoleScript }
    public static var style: String { consoleStyle }
}
