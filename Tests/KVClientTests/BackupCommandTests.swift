#if canImport(Glibc)
import Glibc
#endif
import ClientShell
import KVClient
import Testing

/// `backup FILE`: the admin request, with a relative FILE made absolute from the client's directory.
@Suite struct BackupCommandTests {
    func line(_ command: String) throws -> String {
        guard case .send(let line, let display) = try ShortCommandParser.parse(command), display == .raw else {
            Issue.record("\(command) did not become a request shown raw")
            return ""
        }
        return line
    }

    @Test func backupSendsTheAdminRequestWithAnAbsolutePath() throws {
        #expect(try line("backup /srv/raftkv/nightly.bak") == #"{"admin":"backup","path":"/srv/raftkv/nightly.bak"}"#)
        #expect(try line(#"BACKUP "/tmp/two words.bak""#) == #"{"admin":"backup","path":"/tmp/two words.bak"}"#)
        var buffer = [CChar](repeating: 0, count: 4096)
        let directory = String(cString: getcwd(&buffer, buffer.count)!)
        let expected = (directory == "/" ? "" : directory) + "/here.bak"
        #expect(try line("backup here.bak") == #"{"admin":"backup","path":"\#(expected)"}"#)
        #expect(throws: ShortCommandParser.Problem.self) { try ShortCommandParser.parse("backup") }
        #expect(throws: ShortCommandParser.Problem.self) { try ShortCommandParser.parse("backup a b") }
        #expect(ShortCommandParser.helpText.contains("backup FILE"))
    }
}
