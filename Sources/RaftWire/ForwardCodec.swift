/// The payloads of `request` and `answer` frames: a client request one member passes to another
/// (a correlation id, how many members passed it on so far, the request as a protocol line), and
/// the answer line that comes back under the same id.
public enum ForwardCodec {
    public static func encodeRequest(id: UInt64, hops: Int, line: String) -> [UInt8] {
        var writer = BinaryWriter()
        writer.varint(id)
        writer.int(hops)
        writer.string(line)
        return writer.bytes
    }

    public static func decodeRequest(_ bytes: [UInt8]) throws(WireError) -> (id: UInt64, hops: Int, line: [UInt8]) {
        var reader = BinaryReader(bytes)
        let id = try reader.varint()
        let hops = try reader.int()
        let line = try reader.data()
        guard reader.atEnd else { throw .malformed("bytes after a forwarded request") }
        return (id, hops, line)
    }

    public static func encodeAnswer(id: UInt64, line: String) -> [UInt8] {
        var writer = BinaryWriter()
        writer.varint(id)
        writer.string(line)
        return writer.bytes
    }

    public static func decodeAnswer(_ bytes: [UInt8]) throws(WireError) -> (id: UInt64, line: String) {
        var reader = BinaryReader(bytes)
        let id = try reader.varint()
        let line = try reader.string()
        guard reader.atEnd else { throw .malformed("bytes after a forwarded answer") }
        return (id, line)
    }
}
