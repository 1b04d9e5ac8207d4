extension ShortCommandParser {
    /// Positional and `--name value` arguments; named ones win over positional ones.
    struct Arguments {
        private var positional: [String] = []
        private var named: [String: String] = [:]

        init(_ words: [String]) {
            var index = 0
            while index < words.count {
                let word = words[index]
                if word.hasPrefix("--"), word.count > 2, index + 1 < words.count {
                    named[String(word.dropFirst(2)).lowercased()] = words[index + 1]
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
            if let position = positional.firstIndex(of: "--" + name) {
                positional.remove(at: position)
                return true
            }
            // `--name value` was read as a named pair: the value was really a positional word.
            if let value = named.removeValue(forKey: name) {
                positional.insert(value, at: 0)
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
            if !positional.isEmpty || !named.isEmpty { throw Problem("usage: \(usage)") }
        }
    }

    /// Splits on spaces, keeping quoted text together and honouring backslash escapes.
    public static func tokenize(_ line: String) throws(Problem) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
                continue
            }
            if character == "\\" {
                escaped = true
                inWord = true
                continue
            }
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
                continue
            }
            if character == "\"" || character == "'" {
                quote = character
                inWord = true
                continue
            }
            if character == " " || character == "\t" {
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
                continue
            }
            current.append(character)
            inWord = true
        }
        if quote != nil { throw Problem("a quote is not closed") }
        if escaped { current.append("\\") }
        if inWord { words.append(current) }
        return words
    }
}
