#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads commands from standard input and prints each response line. Interactive on a
/// terminal (a prompt, friendly errors); in a pipe it reads to the end and prints every
/// response, so `echo '{"key":"a"}' | ClientMain` works in scripts.
public struct Repl {
    let connection: ClientConnection
    let interactive: Bool

    public init(connection: ClientConnection, interactive: Bool) {
        self.connection = connection
        self.interactive = interactive
    }

    /// Runs until end of input or `exit`; returns the process exit status.
    public func run() -> Int32 {
        if interactive {
            print("Connected. Type help for commands, exit to leave.")
        }
        while true {
            if interactive {
                print("kv> ", terminator: "")
                fflush(nil)
            }
            guard let line = readLine(strippingNewline: true) else { break }
            let command: ClientCommand
            do {
                command = try ShortCommandParser.parse(line)
            } catch {
                printError("\(error)")
                continue
            }
            switch command {
            case .nothing:
                continue
            case .help:
                print(ShortCommandParser.helpText)
            case .exit:
                return 0
            case .send(let request):
                do {
                    guard let response = try connection.request(request) else {
                        printError("the server closed the connection")
                        return 1
                    }
                    print(response)
                    if response == "{\"close\":\"ok\"}" {
                        printError("the server closed the idle connection")
                        return 0
                    }
                } catch {
                    printError("\(error)")
                    return 1
                }
            }
        }
        return 0
    }

    private func printError(_ text: String) {
        var bytes = Array(("ClientMain: " + text + "\n").utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}
