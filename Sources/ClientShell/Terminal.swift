#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few terminal operations the client needs, straight on the file descriptors.
public enum Terminal {
    public static var inputIsTTY: Bool { isatty(0) != 0 }
    public static var outputIsTTY: Bool { isatty(1) != 0 }

    /// The terminal's height in rows (24 when it cannot be told).
    public static var rows: Int {
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0 else { return 24 }
        return Int(size.ws_row)
    }

    public static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { Glibc.write(1, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { return }
            offset += written
        }
    }

    /// Puts standard input in raw mode (no echo, no line buffering, Ctrl-C as a byte) and
    /// returns the settings to restore.
    public static func enterRawMode() -> termios? {
        var original = termios()
        guard tcgetattr(0, &original) == 0 else { return nil }
        var raw = original
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        withUnsafeMutableBytes(of: &raw.c_cc) { bytes in
            bytes[Int(VMIN)] = 1
            bytes[Int(VTIME)] = 0
        }
        tcsetattr(0, TCSAFLUSH, &raw)
        return original
    }

    public static func restore(_ settings: termios?) {
        guard var settings else { return }
        tcsetattr(0, TCSAFLUSH, &settings)
    }

    /// Reads one byte, waiting at most `timeoutMs` (nil: forever). Nil on timeout or end of input.
    public static func readByte(timeoutMs: Int32? = nil) -> UInt8? {
        if let timeoutMs {
            var descriptor = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, timeoutMs) > 0 else { return nil }
        }
        var byte: UInt8 = 0
        return read(0, &byte, 1) == 1 ? byte : nil
    }
}

/// Commands typed before, kept in a file so they survive restarts of the client.
public struct History {
    public private(set) var entries: [String] = []
    let path: String?
    static let limit = 1000

    public init(path: String?) {
        self.path = path
        if let path, let file = fopen(path, "r") {
            defer { fclose(file) }
            var line: UnsafeMutablePointer<CChar>?
            var capacity = 0
            while getline(&line, &capacity, file) > 0 {
                let text = String(cString: line!).trimmingNewline
                if !text.isEmpty { entries.append(text) }
            }
            free(line)
            entries = Array(entries.suffix(Self.limit))
        }
    }

    /// `~/.raftkv_history`, or nil without a home directory.
    public static var defaultPath: String? {
        getenv("HOME").map { String(cString: $0) + "/.raftkv_history" }
    }

    public mutating func add(_ line: String) {
        guard !line.isEmpty, entries.last != line else { return }
        entries.append(line)
        if entries.count > Self.limit { entries.removeFirst(entries.count - Self.limit) }
        if let path, let file = fopen(path, "a") {
            fputs(line + "\n", file)
            fclose(file)
        }
    }

    public struct ExpansionError: Error, CustomStringConvertible {
        public var description: String
    }

    /// `!!` is the last command, `!N` command number N (as `history` lists them); other lines
    /// come back unchanged.
    public func expand(_ line: String) throws(ExpansionError) -> String {
        let trimmed = line.drop { $0 == " " }
        guard trimmed.hasPrefix("!") else { return line }
        if trimmed == "!!" {
            guard let last = entries.last else { throw ExpansionError(description: "no command yet") }
            return last
        }
        guard let number = Int(trimmed.dropFirst()), number >= 1, number <= entries.count else {
            throw ExpansionError(description: "no command \(trimmed) in the history (see history)")
        }
        return entries[number - 1]
    }

    public var listing: String {
        entries.enumerated().map { "\(String(repeating: " ", count: max(0, 4 - String($0.offset + 1).count)))\($0.offset + 1)  \($0.element)" }
            .joined(separator: "\n")
    }
}

extension String {
    var trimmingNewline: String {
        var text = self
        while let last = text.last, last.isNewline { text.removeLast() }  // "\r\n" is one Character
        return text
    }
}

/// A small line editor for the interactive prompt: arrows, Home/End (Ctrl-A/E), Backspace,
/// Delete, history with up/down, Ctrl-C to drop the line, Ctrl-D to leave, Ctrl-L to clear.
struct LineEditor {
    let prompt: String

    /// Reads one line; nil at end of input (Ctrl-D on an empty line).
    func readLine(history: [String]) -> String? {
        let saved = Terminal.enterRawMode()
        defer { Terminal.restore(saved) }
        var buffer: [Character] = []
        var cursor = 0
        var historyIndex = history.count
        var pending: [UInt8] = []
        func redraw() {
            let tail = buffer.count - cursor
            Terminal.write("\r" + prompt + String(buffer) + "\u{1B}[K" + (tail > 0 ? "\u{1B}[\(tail)D" : ""))
        }
        redraw()
        while let byte = Terminal.readByte() {
            switch byte {
            case 13, 10:
                Terminal.write("\r\n")
                return String(buffer)
            case 3:  // Ctrl-C: drop the line
                Terminal.write("^C\r\n")
                buffer = []
                cursor = 0
            case 4:  // Ctrl-D
                if buffer.isEmpty {
                    Terminal.write("\r\n")
                    return nil
                }
                if cursor < buffer.count { buffer.remove(at: cursor) }
            case 127, 8:
                if cursor > 0 {
                    buffer.remove(at: cursor - 1)
                    cursor -= 1
                }
            case 1: cursor = 0
            case 5: cursor = buffer.count
            case 12: Terminal.write("\u{1B}[H\u{1B}[2J")
            case 27:
                guard let introducer = Terminal.readByte(timeoutMs: 50),
                      introducer == UInt8(ascii: "[") || introducer == UInt8(ascii: "O"),
                      let code = Terminal.readByte(timeoutMs: 50) else { break }
                switch code {
                case UInt8(ascii: "A"):
                    if historyIndex > 0 {
                        historyIndex -= 1
                        buffer = Array(history[historyIndex])
                        cursor = buffer.count
                    }
                case UInt8(ascii: "B"):
                    if historyIndex < history.count {
                        historyIndex += 1
                        buffer = historyIndex == history.count ? [] : Array(history[historyIndex])
                        cursor = buffer.count
                    }
                case UInt8(ascii: "C"): cursor = min(buffer.count, cursor + 1)
                case UInt8(ascii: "D"): cursor = max(0, cursor - 1)
                case UInt8(ascii: "H"): cursor = 0
                case UInt8(ascii: "F"): cursor = buffer.count
                case UInt8(ascii: "3"):
                    _ = Terminal.readByte(timeoutMs: 50)  // the "~"
                    if cursor < buffer.count { buffer.remove(at: cursor) }
                default: break
                }
            default:
                guard byte >= 32 else { break }
                pending.append(byte)
                if let text = String(validating: pending, as: UTF8.self) {
                    for character in text {
                        buffer.insert(character, at: cursor)
                        cursor += 1
                    }
                    pending = []
                } else if pending.count >= 4 {
                    pending = []
                }
            }
            redraw()
        }
        return nil
    }
}
