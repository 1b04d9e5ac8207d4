import KVWire

/// The flight recorder's dump.
extension AdminHandler {
    func trace(node: Int?, _ reply: AdminReply) {
        reply.error(.unavailable, "the flight recorder is not available in this build")
    }
}
