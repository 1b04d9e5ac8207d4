extension ShortCommandParser {
    /// Positional and `--name value` arguments; named ones win over positional ones.
    struct Arguments {
        private var positional: [String] = []
        private var named: [String: String] = [:]
        private var flags: Set<String> = []

        /// Flags that never take a value: `--revisions k v` is the flag and two words, not a
        /// named parameter `revisions` = `k`.
        static let valuelessFlags: Set<String> = ["revisions", "keys-only", "linearizable", "lose-unsynced", "observe"]

        init(_ words: [String]) {
            var index = 0
            while index < words.count {
                let word = words[index]
                let name = String(word.dropFirst(2)).lowercased()
                if word.hasPrefix("--"), word.count > 2, Self.valuelessFlags.contains(name) {
                    flags.insert(name)
                    index += 1
                } else if word.hasPrefix("--"), word.count > 2, index + 1 < words.count {
                    named[name] = words[index + 1]
                    index += 2
                } else {
                    positional.append(word)
                    index += 1
                }
            }
        }

        var remaining: [String] { positional }

        mutating func takeNamed(_ name: String) -> String? {
            named.removeValue(forKey: name)
        }

        /// A `--name` flag without a value, anywhere among the words.
        mutating func takeFlag(_ name: String) -> Bool {
            if flags.remove(name) != nil { return true }
            if let position = positional.firstIndex(where: { $0.lowercased() == "--" + name }) {
                positional.remove(at: position)
                return true
            }
            return false
        }

        mutating func takeOptional(_ name: String) -> String? {
            if let value = named.removeValue(forKey: name) { return value }
            return positional.isEmpty ? nil : positional.removeFirst()
        }

        mutating func take(_ name: String, usage: String) throws(Problem) -> String {
            guard let value = takeOptional(name) else { throw Problem("usage: \(usage)") }
            return value
        }

        func finish(_ usage: String) throws(Problem) {
            if !positional.isEmpty || !named.isEmpty || !flags.isEmpty { throw Problem("usage: \(usage)") }
        }
    }

    /// Splits on spaces, keeping quoted text together and honouring backslash escapes.
    public static func tokenize(_ line: String) throws(Problem) -> [String] {
        try tokens(line).map(\.text)
    }

    /// A word of a command line, and whether any of it was quoted or escaped (then it is never
    /// a keyword like `then`, nor a separator).
    public struct Token: Equatable, Sendable {
        public var text: String
        public var literal: Bool
        /// An unquoted separator character standing alone (`;` in a txn).
        public var isSeparator: Bool

        public init(_ text: String, literal: Bool = false, isSeparator: Bool = false) {
            self.text = text
            self.literal = literal
            self.isSeparator = isSeparator
        }

        /// The word is this keyword (case-insensitive), typed without quotes.
        func isKeyword(_ keyword: String) -> Bool { !literal && !isSeparator && text.lowercased() == keyword }
    }

    /// Splits on spaces like `tokenize`; an unquoted character of `separators` also ends a word
    /// and stands as a token of its own.
    public static func tokens(_ line: String, separators: Set<Character> = []) throws(Problem) -> [Token] {
        var words: [Token] = []
        var current = ""
        var inWord = false
        var literal = false
        var quote: Character?
        var escaped = false
        func endWord() {
            if inWord { words.append(Token(current, literal: literal)) }
            current = ""
            inWord = false
            literal = false
        }
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
                continue
            }
            if character == "\\" {
                escaped = true
                inWord = true
                literal = true
                continue
            }
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
                continue
            }
            if character == "\"" || character == "'" {
                quote = character
                inWord = true
                literal = true
                continue
            }
            if character == " " || character == "\t" {
                endWord()
                continue
            }
            if separators.contains(character) {
                endWord()
                words.append(Token(String(character), isSeparator: true))
                continue
            }
            current.append(character)
            inWord = true
        }
        if quote != nil { throw Problem("a quote is not closed") }
        if escaped { current.append("\\") }
        endWord()
        return words
    }
}
