#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KVWire

/// Something that sends a request line and returns the answer line: the connection to the
/// server, or a stand-in in tests.
public protocol LineExchange: AnyObject {
    /// Sends `line` and waits for its answer; nil when the server closed the connection.
    func request(_ line: String) throws(ClientConnection.Failure) -> String?
}

extension ClientConnection: LineExchange {}

/// Exactly-once writes from this client (Raft dissertation §6.3): every write carries the
/// client's id and the next `seq`; a write answered `timeout` (it reached a leader, but its
/// outcome is unknown) is sent again with the same id and seq, so the store applies it at most
/// once and answers the repeat with what it recorded for the first. Reads never carry a session.
public struct WriteSession: Sendable {
    /// This client's id in the store's session table (at most 64 bytes).
    public let client: String
    /// The `seq` of the last write sent (0: none yet).
    public private(set) var lastSeq: Int64 = 0
    /// How many times a write answered `timeout` is sent again before its answer is shown.
    public var maxRetries: Int

    public init(client: String = WriteSession.makeClientID(), maxRetries: Int = 3) {
        self.client = String(decoding: client.utf8.prefix(ClientSession.maxClientBytes), as: UTF8.self)
        self.maxRetries = maxRetries
    }

    /// `cli-<host>-<pid>-<8 random hex digits>`: unique enough that two clients never share a
    /// session, and short enough for the store's 64-byte limit.
    public static func makeClientID(host: String = WriteSession.hostName, pid: Int32 = getpid()) -> String {
        let allowed = host.utf8.filter { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || byte == 0x2D || byte == 0x2E
        }
        let cleanHost = String(decoding: allowed.prefix(32), as: UTF8.self)
        let random = String(UInt32.random(in: .min ... .max), radix: 16)
        return "cli-\(cleanHost.isEmpty ? "host" : cleanHost)-\(pid)-" + String(repeating: "0", count: 8 - random.count) + random
    }

    public static var hostName: String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "host" }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The request with this client's next session, when it is a write (reads go as they are).
    public mutating func numbered(_ request: ClientRequest) -> ClientRequest {
        guard request.isWrite else { return request }
        var numbered = request
        lastSeq += 1
        numbered.session = ClientSession(client: client, seq: lastSeq)
        return numbered
    }

    /// Sends `request` (numbered when it is a write) and returns the answer. A write answered
    /// `timeout` goes again, the same line with the same client and seq, up to `maxRetries`
    /// times; `note` hears of each retry. Nil when the server closed the connection.
    public mutating func send(_ request: ClientRequest, over connection: some LineExchange,
                              note: (String) -> Void = { _ in }) throws(ClientConnection.Failure) -> String? {
        let numbered = numbered(request)
        let line = RequestEncoder.line(numbered)
        guard var answer = try connection.request(line) else { return nil }
        guard let session = numbered.session else { return answer }
        var retries = 0
        while retries < maxRetries, AnswerLine.code(answer) == ErrorCode.timeout.rawValue {
            retries += 1
            note("(retried: timeout) the write's outcome was unknown; sent again as client \(session.client) seq \(session.seq)"
                 + " (retry \(retries) of \(maxRetries)), so it is applied at most once")
            guard let next = try connection.request(line) else { return nil }
            answer = next
        }
        return answer
    }
}
