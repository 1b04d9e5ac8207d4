import JSONText

/// Turns answers into text for people. Keys, ranges and transactions are here
/// (Renderers+Keys); the admin views are in ClientShell, events and leases too.
public enum Renderers {
    package static func color(_ text: String, _ code: String, _ enabled: Bool) -> String {
        enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    package static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return right ? padding + text : text + padding
    }

    package static func int(_ value: JSONValue?) -> String {
        value?.intValue.map(String.init) ?? "-"
    }
}
