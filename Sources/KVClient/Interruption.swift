#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The signal that asked a long-running command to stop (0: none yet).
private let caughtSignal = Atomic<Int32>(0)

/// What ends a command that runs until told (follow, lease keepalive, lock, elect): Ctrl-C or
/// SIGTERM (a second Ctrl-C ends the process at once), and standard input as `InputMode` says.
/// While it exists, SIGINT and SIGTERM are caught; `finish()` puts the defaults back.
public final class Interruption {
    /// How standard input tells the command to stop.
    public enum InputMode: Equatable, Sendable {
        /// A terminal in raw mode (the interactive prompt): Enter, q, Ctrl-C or Ctrl-D stop.
        case keys
        /// Commands piped to the prompt: the next line (left for the prompt to run) or the end of input.
        case nextLine
        /// A command on ClientMain's command line: the end of input (Ctrl-D, or the pipe closed);
        /// anything typed meanwhile is read and ignored.
        case endOfInput
        /// Standard input is not watched (it is /dev/null, or a terminal this process is in the
        /// background of): only a signal stops the command.
        case none
    }

    public enum Wake: Equatable {
        /// The socket has something to read.
        case readable
        /// Time is up.
        case timeout
        /// Stop, for this reason ("Ctrl-C", "end of input", ...).
        case stop(String)
    }

    public let input: InputMode
    private var savedInterrupt = sigaction()
    private var savedTerminate = sigaction()
    private var installed = false
    private var inputEnded = false
    /// Set once something asked to stop (why).
    public private(set) var reason: String?
    /// Asked at every wait (at least four times a second): a reason to stop, or nil to go on
    /// (a lease that was lost, say).
    public var alsoStopWhen: (() -> String?)?

    public init(input: InputMode) {
        self.input = input
        caughtSignal.store(0, ordering: .relaxed)
        var action = sigaction()
        #if canImport(Glibc)
        action.__sigaction_handler.sa_handler = { number in
            // The first Ctrl-C asks politely; the next one ends the process (default action).
            caughtSignal.store(number, ordering: .relaxed)
            signal(number, SIG_DFL)
        }
        #endif
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0  // no SA_RESTART: poll returns at once
        sigaction(SIGINT, &action, &savedInterrupt)
        sigaction(SIGTERM, &action, &savedTerminate)
        // A parent may have started this process with them blocked: they are what stops it.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        sigaddset(&unblock, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        installed = true
    }

    /// Restores the signal handlers that were there before.
    public func finish() {
        guard installed else { return }
        installed = false
        sigaction(SIGINT, &savedInterrupt, nil)
        sigaction(SIGTERM, &savedTerminate, nil)
    }

    deinit { finish() }

    /// The mode for a command given on ClientMain's command line: standard input's end stops
    /// it, unless standard input is /dev/null (started with `&` from a script, say) or a
    /// terminal this process is in the background of.
    public static var commandLineMode: InputMode {
        var own = stat()
        guard fstat(0, &own) == 0 else { return .none }
        var null = stat()
        if stat("/dev/null", &null) == 0, (own.st_mode & S_IFMT) == S_IFCHR, own.st_rdev == null.st_rdev { return .none }
        if isatty(0) != 0 && tcgetpgrp(0) != getpgrp() { return .none }
        return .endOfInput
    }

    /// Whether to stop now (a signal came, or standard input says so), without waiting.
    public func shouldStop() -> Bool {
        if case .stop = wait(for: nil, timeoutMs: 0) { return true }
        return false
    }

    /// Marks the command stopped for `why` (the lease was lost, say) unless it already was.
    public func stop(_ why: String) {
        if reason == nil { reason = why }
    }

    /// Waits until `socket` is readable (when given), `timeoutMs` pass, or something asks to stop.
    public func wait(for socket: Int32?, timeoutMs: Int) -> Wake {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let end = Int64(deadline.tv_sec) * 1000 + Int64(deadline.tv_nsec) / 1_000_000 + Int64(timeoutMs)
        while true {
            if let reason { return .stop(reason) }
            if let why = alsoStopWhen?() {
                reason = why
                return .stop(why)
            }
            let number = caughtSignal.load(ordering: .relaxed)
            if number != 0 {
                reason = number == SIGINT ? "Ctrl-C" : "signal \(number)"
                return .stop(reason!)
            }
            var descriptors: [pollfd] = []
            if let socket { descriptors.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
            let watchesInput = input != .none && !inputEnded
            if watchesInput { descriptors.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0)) }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let left = end - (Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000)
            let ready = poll(&descriptors, nfds_t(descriptors.count), Int32(max(0, min(left, 250))))
            if ready < 0 && errno != EINTR { return .stop("poll failed: \(String(cString: strerror(errno)))") }
            if ready > 0 {
                if socket != nil && descriptors[0].revents != 0 { return .readable }
                if watchesInput, let last = descriptors.last, last.revents != 0, let why = readInput() {
                    reason = why
                    return .stop(why)
                }
            }
            if left <= 0 { return .timeout }
        }
    }

    /// Reads what standard input has for the mode; the reason to stop, if it gives one.
    private func readInput() -> String? {
        switch input {
        case .none:
            return nil
        case .nextLine:
            return "input"  // left unread: the prompt runs it next
        case .keys:
            var byte: UInt8 = 0
            let count = read(0, &byte, 1)
            if count <= 0 { inputEnded = true; return "end of input" }
            switch byte {
            case 3: return "Ctrl-C"
            case 4: return "Ctrl-D"
            case 10, 13: return "Enter"
            case UInt8(ascii: "q"), UInt8(ascii: "Q"): return "q"
            default: return nil
            }
        case .endOfInput:
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count == 0 { inputEnded = true; return "end of input" }
            if count < 0 && errno != EINTR && errno != EAGAIN {
                inputEnded = true  // unreadable: stop watching it, not the command
            }
            return nil
        }
    }
}
