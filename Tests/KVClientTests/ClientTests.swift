import JSONText
import ClientShell
import KVClient
import KVWire
import Testing

@Suite struct CommandParserTests {
    /// The line a command sends (a write as it goes before the client numbers it), and its display.
    func send(_ line: String) throws -> (String, ResponseDisplay) {
        switch try ShortCommandParser.parse(line) {
        case .send(let request, let display): return (request, display)
        case .write(let request, let display): return (RequestEncoder.line(request), display)
        default:
            Issue.record("\(line) did not become a request")
            return ("", .raw)
        }
    }

    @Test func quotingAndEscapes() throws {
        #expect(try ShortCommandParser.tokenize(#"put a "two words""#) == ["put", "a", "two words"])
        #expect(try ShortCommandParser.tokenize(#"put 'it''s' x\ y"#) == ["put", "its", "x y"])
        #expect(try ShortCommandParser.tokenize(#"put a "say \"hi\"""#) == ["put", "a", #"say "hi""#])
        #expect(throws: ShortCommandParser.Problem.self) { try ShortCommandParser.tokenize(#"put a "open"#) }
    }

    @Test func commandsAreCaseInsensitiveWithNamedParameters() throws {
        #expect(try send(#"PUT k "v w""#).0 == #"{"op":"put","key":"k","value":"v w"}"#)
        #expect(try send("put --key k --value v").0 == #"{"op":"put","key":"k","value":"v"}"#)
        #expect(try send("Put --value v --key k").0 == #"{"op":"put","key":"k","value":"v"}"#)
        #expect(try send("GET k linearizable").0 == #"{"op":"get","key":"k","consistency":"linearizable"}"#)
        #expect(try send("delete k").0 == #"{"op":"delete","key":"k"}"#)
        #expect(try send("cas k null v").0 == #"{"op":"cas","key":"k","expect":null,"value":"v"}"#)
        #expect(try send(#"{"key":"raw"}"#) == (#"{"key":"raw"}"#, .raw))
    }

    @Test func adminAndDisplayCommands() throws {
        #expect(try send("STATUS") == (#"{"admin":"status"}"#, .statusTable))
        #expect(try send("cluster").1 == .clusterSummary)
        #expect(try send("LOGSIZE").1 == .logSizes)
        #expect(try send("logs 5") == (#"{"admin":"logs","node":-1,"count":5}"#, .logEntries))
        #expect(try send("logs 5 --node 2").0 == #"{"admin":"logs","node":2,"count":5}"#)
        #expect(try send("metrics").1 == .metrics)
        #expect(try send("metrics prometheus") == (#"{"admin":"metrics","format":"prometheus"}"#, .raw))
        #expect(try send("kill 2").0 == #"{"admin":"kill","node":2}"#)
        #expect(try send("isolate 1").0 == #"{"admin":"isolate","node":1}"#)
        #expect(try send("partition 0,1 | 2").0 == #"{"admin":"partition","groups":[[0,1],[2]]}"#)
        #expect(try send("slow 1 200").0 == #"{"admin":"slow","node":1,"ms":200}"#)
        #expect(try ShortCommandParser.parse("watch 3") == .watch(seconds: 3))
        #expect(try ShortCommandParser.parse("WATCH") == .watch(seconds: nil))
        #expect(try ShortCommandParser.parse("snapshot") == .snapshot(node: nil))
        #expect(try ShortCommandParser.parse("?") == .help)
        #expect(try ShortCommandParser.parse("   ") == .nothing)
    }

    @Test func mistakesSayHow() {
        for line in ["put onlykey", "kill x", "frobnicate", "partition 0 1", "slow 1 -5", "get a b c"] {
            #expect(throws: ShortCommandParser.Problem.self, "\(line)") { try ShortCommandParser.parse(line) }
        }
    }

    @Test func historyExpansion() throws {
        var history = History(path: nil)
        history.add("put a 1")
        history.add("get a")
        #expect(try history.expand("!!") == "get a")
        #expect(try history.expand("!1") == "put a 1")
        #expect(try history.expand("status") == "status")
        #expect(throws: History.ExpansionError.self) { try history.expand("!9") }
        #expect(history.listing == "   1  put a 1\n   2  get a")
    }
}

@Suite struct RendererTests {
    let status = try! JSONParser.parse("""
        {"status":"ok","leader":1,"nodes":[
         {"id":0,"role":"follower","term":3,"votedFor":1,"commitIndex":7,"lastApplied":7,"logLength":8,"alive":true,"partitioned":false,"slowMs":0,"msSinceLeaderContact":12},
         {"id":1,"role":"leader","term":3,"votedFor":1,"commitIndex":8,"lastApplied":8,"logLength":8,"alive":true,"partitioned":false,"slowMs":0},
         {"id":2,"role":"down","term":0,"votedFor":null,"commitIndex":0,"lastApplied":0,"logLength":0,"alive":false}]}
        """).objectValue!

    @Test func plainTable() {
        #expect(Renderers.statusTable(status, color: false) == """
            node  role          term  voted  log     commit  applied  state          heard from leader
               0  follower         3      1       8       7        7  up             12 ms ago
              *1  LEADER           3      1       8       8        8  up             is the leader
               2  down             -      -       -       -        -  down           -
            leader: node 1, term 3
            """)
    }

    @Test func colouredTableOnlyAddsColourCodes() {
        let coloured = Renderers.statusTable(status, color: true)
        #expect(coloured.contains("\u{1B}[1;32mLEADER      \u{1B}[0m"))
        #expect(coloured.contains("\u{1B}[31mdown        \u{1B}[0m"))
        let stripped = coloured.replacingEscapes()
        #expect(stripped == Renderers.statusTable(status, color: false))
    }

    @Test func summaryAndLogSizes() {
        #expect(Renderers.clusterSummary(status) == "3 nodes; leader: node 1 in term 3; up: 0, 1; down: 2; partitioned: none")
        #expect(Renderers.logSizes(status).split(separator: "\n").count == 4)
    }
}

extension String {
    func replacingEscapes() -> String {
        var result = ""
        var skipping = false
        for character in self {
            if character == "\u{1B}" { skipping = true; continue }
            if skipping { if character == "m" { skipping = false }; continue }
            result.append(character)
        }
        return result
    }
}
