import Foundation
import JSONText
import RaftCore
import RaftReplay

/// `timeline.jsonl` beside a recording's trace files: what the recording cannot show — the
/// network switches thrown, messages delivered or dropped by hand, a scenario's narration — one
/// JSON object per line (`{"t":NANOS,"kind":K,"node":N,"text":T}`, `t` on the recorders' clock),
/// placed on the timeline by time.
public enum TimelineNotesFile {
    public static let name = "timeline.jsonl"

    public static func write(_ notes: [TimelineNote], directory: String) throws {
        var text = ""
        for note in notes {
            var object = JSONObjectWriter()
            object.member("t", .number(String(note.time)))
            object.member("kind", string: note.kind)
            if let node = note.node { object.member("node", int: node) }
            object.member("text", string: note.text)
            if let envelope = note.dropped, let data = try? JSONEncoder().encode(envelope), let text = String(data: data, encoding: .utf8),
               let value = try? JSONParser.parse(text) {
                object.member("dropped", value)
            }
            text += object.finished() + "\n"
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/" + name), options: .atomic)
    }

    /// The notes of `directory` (none when the file is missing; unreadable lines are skipped).
    public static func read(directory: String) -> [TimelineNote] {
        guard let data = FileManager.default.contents(atPath: directory + "/" + name) else { return [] }
        var notes: [TimelineNote] = []
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard case .object(let object)? = try? JSONParser.parse([UInt8](line)),
                  let time = object["t"]?.numberText.flatMap(UInt64.init), let text = object["text"]?.stringValue else { continue }
            var dropped: Envelope?
            if let value = object["dropped"] {
                var writer = JSONWriter()
                writer.value(value)
                dropped = try? JSONDecoder().decode(Envelope.self, from: Data(writer.text.utf8))
            }
            notes.append(TimelineNote(time: time, kind: object["kind"]?.stringValue ?? "note", node: object["node"]?.intValue, text: text,
                                      dropped: dropped))
        }
        return notes
    }
}
