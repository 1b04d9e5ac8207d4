import KVWire

/// The readable transaction syntax of the client:
///
///     txn [--revisions] [if COMPARE [and COMPARE]...] then STEP [; STEP]... [else STEP [; STEP]...]
///
/// COMPARE is `KEY == VALUE` (or `=`), `KEY missing`, `KEY exists` or `KEY modrev N`; STEP is
/// `put KEY VALUE`, `get KEY`, `delete KEY`, `delete --prefix P` or `range ...` (as the range
/// command, without `--linearizable`: a transaction reads through the log). Keywords (`if`,
/// `and`, `then`, `else`, `missing`, ...) are case-insensitive and count only unquoted: a key
/// named `then` is written `"then"`. Words are quoted as everywhere in the client.
///
///     txn if lock missing then put lock me else get lock
///     txn if a == 1 and b modrev 7 then put a 2; delete b else get a; get b
public enum TxnSyntax {
    public typealias Problem = ShortCommandParser.Problem

    public static let usage = "txn [if COMPARE [and COMPARE]...] then STEP [; STEP]... [else STEP [; STEP]...]"
    static let compareHelp = "a compare is KEY == VALUE, KEY missing, KEY exists or KEY modrev N"
    static let stepHelp = "a step is put KEY VALUE, get KEY, delete KEY, delete --prefix P or range ..."

    /// The command a `txn ...` line means.
    public static func command(_ line: String) throws(Problem) -> ClientCommand {
        let (transaction, revisions) = try parse(line)
        return .write(ClientRequest(.txn(transaction), revisions: revisions), display: .transaction(transaction))
    }

    /// The transaction a `txn ...` line describes, and whether it asked for `--revisions`.
    public static func parse(_ line: String) throws(Problem) -> (Transaction, revisions: Bool) {
        var tokens = try ShortCommandParser.tokens(line, separators: [";"])[...]
        guard let first = tokens.popFirst(), first.isKeyword("txn") else { throw Problem("usage: \(usage)") }
        var revisions = false
        if let flag = tokens.first, flag.isKeyword("--revisions") {
            revisions = true
            tokens.removeFirst()
        }
        guard let opening = tokens.first else { throw Problem("usage: \(usage)") }
        var compares: [Transaction.Compare] = []
        if opening.isKeyword("if") {
            tokens.removeFirst()
            while true {
                var words: [ShortCommandParser.Token] = []
                while let token = tokens.first, !token.isKeyword("and"), !token.isKeyword("then") {
                    words.append(token)
                    tokens.removeFirst()
                }
                compares.append(try compare(words))
                guard let next = tokens.popFirst() else {
                    throw Problem("txn: expected \"then\" after the compares; usage: \(usage)")
                }
                if next.isKeyword("then") { break }
            }
        } else if opening.isKeyword("then") {
            tokens.removeFirst()
        } else {
            throw Problem("txn: start with \"if\" (or \"then\" for no compare), not \"\(opening.text)\"; usage: \(usage)")
        }
        var success: [Transaction.Step] = []
        var failure: [Transaction.Step] = []
        var inFailure = false
        var words: [ShortCommandParser.Token] = []
        func endStep() throws(Problem) {
            defer { words = [] }
            guard !words.isEmpty else { return }
            let parsed = try step(words)
            if inFailure { failure.append(parsed) } else { success.append(parsed) }
        }
        while let token = tokens.popFirst() {
            if token.isSeparator {
                try endStep()
            } else if token.isKeyword("else") {
                if inFailure { throw Problem("txn: one \"else\" at most; separate steps with \";\"") }
                try endStep()
                inFailure = true
            } else if words.isEmpty && (token.isKeyword("then") || token.isKeyword("if")) {
                throw Problem("txn: \"\(token.text)\" where a step should start; \(stepHelp)")
            } else {
                words.append(token)
            }
        }
        try endStep()
        if inFailure && failure.isEmpty { throw Problem("txn: \"else\" needs at least one step; \(stepHelp)") }
        if success.isEmpty && failure.isEmpty { throw Problem("txn: nothing to do after \"then\"; \(stepHelp)") }
        let parts = compares.count + success.count + failure.count
        if parts > Transaction.maxParts {
            throw Problem("txn: \(parts) compares and steps; a transaction holds at most \(Transaction.maxParts)")
        }
        return (Transaction(compare: compares, success: success, failure: failure), revisions)
    }

    static func compare(_ words: [ShortCommandParser.Token]) throws(Problem) -> Transaction.Compare {
        let typed = words.map(\.text).joined(separator: " ")
        guard let key = words.first else { throw Problem("txn: a compare is missing; \(compareHelp)") }
        guard !key.text.isEmpty else { throw Problem("txn: a compare's KEY must not be empty") }
        if words.count == 2 {
            if words[1].isKeyword("missing") { return .exists(key: key.text, false) }
            if words[1].isKeyword("exists") { return .exists(key: key.text, true) }
        }
        if words.count == 3 {
            if words[1].isKeyword("==") || words[1].isKeyword("=") { return .value(key: key.text, equals: words[2].text) }
            if words[1].isKeyword("modrev") {
                guard let revision = Int64(words[2].text), revision >= 0 else {
                    throw Problem("txn: modrev needs a revision (0 or more; 0: absent), not \"\(words[2].text)\"")
                }
                return .modRevision(key: key.text, equals: revision)
            }
        }
        // A whole compare followed by more words: "and" or "then" was left out.
        let length = words.count >= 2 && (words[1].isKeyword("missing") || words[1].isKeyword("exists")) ? 2
            : (words.count >= 3 && (words[1].isKeyword("==") || words[1].isKeyword("=") || words[1].isKeyword("modrev")) ? 3 : 0)
        if length > 0 && words.count > length {
            let compare = words.prefix(length).map(\.text).joined(separator: " ")
            throw Problem("txn: after the compare \"\(compare)\" comes \"and\" or \"then\", not \"\(words[length].text)\"")
        }
        throw Problem("txn: \"\(typed)\" is not a compare; \(compareHelp)")
    }

    static func step(_ words: [ShortCommandParser.Token]) throws(Problem) -> Transaction.Step {
        var arguments = ShortCommandParser.Arguments(words.dropFirst().map(\.text))
        let name = words[0].literal ? words[0].text : words[0].text.lowercased()
        switch name {
        case "put", "set":
            let key = try arguments.take("key", usage: "put KEY VALUE (in a txn)")
            let value = try arguments.take("value", usage: "put KEY VALUE (in a txn)")
            try arguments.finish("put KEY VALUE (in a txn)")
            return .put(key: key, value: value, lease: nil)
        case "get":
            let key = try arguments.take("key", usage: "get KEY (in a txn, every read is linearizable)")
            try arguments.finish("get KEY (in a txn, every read is linearizable)")
            return .get(key: key)
        case "delete", "del":
            if let prefix = arguments.takeNamed("prefix") {
                try arguments.finish("delete --prefix PREFIX (in a txn)")
                return .deletePrefix(prefix)
            }
            let key = try arguments.take("key", usage: "delete KEY or delete --prefix PREFIX (in a txn)")
            try arguments.finish("delete KEY or delete --prefix PREFIX (in a txn)")
            return .delete(key: key)
        case "range":
            return .range(try ShortCommandParser.rangeQuery(
                &arguments, usage: "range [--prefix PREFIX | FROM [TO]] [--limit N] [--after KEY] [--keys-only] (in a txn, reads are linearizable)",
                allowConsistency: false))
        default:
            throw Problem("txn: \"\(words[0].text)\" cannot be a step; \(stepHelp)")
        }
    }
}
