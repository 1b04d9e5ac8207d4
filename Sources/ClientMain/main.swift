#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import JSONText
import ClientShell
import KVClient

let usage = """
    ClientMain — talk to a running ServerMain.

    Usage: ClientMain [--host H] [--port P] [--config FILE] [--token T] [--tls-ca FILE] [COMMAND...]
           ClientMain check --history FILE …   (check a history file for linearizability; check --help)

      --host H       proxy host (default: proxy.host from the config, else 127.0.0.1)
      --port P       proxy port (default: proxy.port from the config, else 7070)
      --config FILE  where to read those defaults (default: config/cluster.json)
      --token T      the token to send with every request (default: $RAFTKV_TOKEN), where the
                     server has tokens configured
      --tls-ca FILE  speak TLS, checking the server's certificate against this CA (the ca.pem
                     that ServerMain --make-certs wrote)
      -h, --help     show this help

    COMMAND, when given, is one command run on its own (its exit status is ClientMain's):
      ClientMain follow --prefix user/       print changes under user/ as they commit
      ClientMain lease grant 5s              prints the lease's id
      ClientMain lock NAME                   wait for lock NAME, hold it until Ctrl-C or end of input
      ClientMain elect NAME VALUE            campaign; ClientMain elect NAME --observe: who leads
    Without one, type short commands (put k v, get k, range --prefix user/, status, kill 1, help)
    or JSON lines.
    Piped input is read to its end and every response printed (tables in plain text; getall
    writes one JSON object per key and line):
      echo '{"key":"snack","value":"chips"}' | ClientMain
      echo getall | ClientMain > keys.jsonl
    Exit status: 0 when done, 1 when the server cannot be reached or the connection is lost
    (or a follow, lock or keepalive cannot go on), 2 for a bad command line. The full reference
    is docs/client.md; the lock and election recipes are in docs/recipes.md.

    """ + ShortCommandParser.helpText

func stderrLine(_ text: String) {
    var bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "check" { exit(HistoryCheckCommand.run(Array(CommandLine.arguments.dropFirst(2)))) }

var host: String?
var port: Int?
var configPath = "config/cluster.json"
var security = ClientConnection.Security(token: getenv("RAFTKV_TOKEN").map { String(cString: $0) })
var remaining = Array(CommandLine.arguments.dropFirst())
/// The words of a command given on the command line (after the options).
var commandWords: [String] = []
while !remaining.isEmpty {
    let argument = remaining.removeFirst()
    if !argument.hasPrefix("-") {
        commandWords = [argument] + remaining
        break
    }
    switch argument {
    case "-h", "--help":
        print(usage)
        exit(0)
    case "--host", "--port", "--config", "--token", "--tls-ca":
        guard !remaining.isEmpty else {
            stderrLine("ClientMain: \(argument) needs a value (see --help)")
            exit(2)
        }
        let value = remaining.removeFirst()
        if argument == "--host" { host = value }
        if argument == "--config" { configPath = value }
        if argument == "--token" { security.token = value }
        if argument == "--tls-ca" { security.caFile = value }
        if argument == "--port" {
            guard let number = Int(value), number > 0, number < 65536 else {
                stderrLine("ClientMain: --port must be a number from 1 to 65535")
                exit(2)
            }
            port = number
        }
    default:
        stderrLine("ClientMain: unknown argument \"\(argument)\" (see --help)")
        exit(2)
    }
}

// Defaults come from the server's config when it is there.
if host == nil || port == nil, let file = fopen(configPath, "r") {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count <= 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    fclose(file)
    if case .object(let root)? = try? JSONParser.parse(bytes), let proxy = root["proxy"]?.objectValue {
        if host == nil { host = proxy["host"]?.stringValue }
        if port == nil { port = proxy["port"]?.intValue }
    }
}

// A command on the command line is checked before anything is sent.
var command: ClientCommand?
if !commandWords.isEmpty {
    // The shell split the words already: quote each one back (a lone ";" stays a txn separator).
    let line = commandWords.map { $0 == ";" ? $0 : Renderers.commandWord($0) }.joined(separator: " ")
    do {
        command = try ShortCommandParser.parse(line)
    } catch {
        stderrLine("ClientMain: \(error)")
        exit(2)
    }
}

let target = (host: host ?? "127.0.0.1", port: port ?? 7070)
ClientConnection.defaults.withLock { $0 = security }
let connection: ClientConnection
do {
    connection = try ClientConnection(host: target.host, port: target.port)
} catch {
    stderrLine("ClientMain: \(error). Is ServerMain running? Start it with: swift run ServerMain")
    exit(1)
}
// A command from the command line runs on its own: no prompt, no history.
var repl = Repl(connection: connection, host: target.host, port: target.port, interactive: command == nil && Terminal.inputIsTTY,
                color: Terminal.outputIsTTY && getenv("NO_COLOR") == nil, historyPath: command == nil ? History.defaultPath : nil)
if let command {
    exit(repl.run(command))
}
exit(repl.run())
