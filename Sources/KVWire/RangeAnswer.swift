import JSONText

/// A key's revisions, as answers show them.
public struct KeyRevisions: Sendable, Equatable {
    public var createRevision: Int64
    public var modRevision: Int64
    public var version: Int64

    public init(createRevision: Int64, modRevision: Int64, version: Int64) {
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
    }
}

/// Writes a range's answer, `{"status":"ok","items":[{"key","value","createRevision",
/// "modRevision","version"}...],"more":B,"revision":R}`, item by item into one buffer: a page
/// holds up to 10,000 keys, and building a JSON tree for it would cost more than finding them.
public struct RangeAnswer {
    private var text: String
    private var first = true
    private let keysOnly: Bool
    public private(set) var count = 0

    public init(keysOnly: Bool, expectedItems: Int = 16) {
        self.keysOnly = keysOnly
        text = "{\"status\":\"ok\",\"items\":["
        text.reserveCapacity(64 + expectedItems * (keysOnly ? 48 : 160))
    }

    public mutating func append(key: String, value: String, revisions: KeyRevisions) {
        text += first ? "{\"key\":" : ",{\"key\":"
        first = false
        JSONWriter.appendQuoted(key, to: &text)
        if !keysOnly {
            text += ",\"value\":"
            JSONWriter.appendQuoted(value, to: &text)
        }
        text += ",\"createRevision\":\(revisions.createRevision),\"modRevision\":\(revisions.modRevision),\"version\":\(revisions.version)}"
        count += 1
    }

    public func finished(more: Bool, revision: Int64, id: JSONValue?) -> String {
        var result = text + "],\"more\":\(more),\"revision\":\(revision)"
        if let id {
            var writer = JSONWriter()
            writer.value(id)
            result += ",\"id\":" + writer.text
        }
        return result + "}"
    }
}
