import Dispatch
import JSONText
import KVStore
import KVWire
import NodeHosting
import RaftCore
import RaftStorage
import RuntimeSupport

/// `{"admin":"backup","path":P}`: the store's state at a committed index, checksummed, written
/// to P on the machine of the member that got the request. A linearizable read first learns the
/// store's revision as the leader's quorum confirms it; then a node of this process whose applied
/// state has reached that revision (the leader when it runs here) freezes its state on its queue
/// — a reference, no copy — and the state is serialized and written elsewhere, so the node is not
/// held. Answers `{"status":"ok","index":I,"bytes":N,"revision":R,"keys":K,"path":P}`.
extension AdminHandler {
    func backup(path: String, _ reply: AdminReply, hops: Int) {
        let deadline = router.deadline
        let probe = ClientRequest(.range(RangeQuery(limit: 1, keysOnly: true, consistency: .linearizable)))
        router.linearizableRead(probe, id: reply.id, hops: hops, deadline: deadline) { line in
            guard case .object(let answer)? = try? JSONParser.parse(line), answer["status"]?.stringValue == "ok",
                  case .number(let digits)? = answer["revision"], let revision = Int64(digits) else {
                return reply.respond(line)  // unavailable or timeout: nothing was written
            }
            self.takeBackup(path: path, revision: revision, deadline: deadline, reply)
        }
    }

    /// Asks the nodes of this process, the leader first, for their state once it holds `revision`.
    private func takeBackup(path: String, revision: Int64, deadline: UInt64, _ reply: AdminReply) {
        let leader = registry.leader
        let local = registry.localIDs.sorted { ($0 == leader ? 0 : 1, $0) < ($1 == leader ? 0 : 1, $1) }
        let hosts = local.compactMap { registry.host($0) }
        guard !hosts.isEmpty else { return reply.error(.unavailable, "no node runs in this process to take the backup from") }
        askInTurn(hosts, position: 0, revision: revision, deadline: deadline) { view in
            guard let view else {
                return reply.error(.unavailable, "no node of this process reached revision \(revision) within the request timeout; nothing was written")
            }
            DispatchQueue.global(qos: .utility).async {
                let backup = Backup(index: view.index, term: view.term, revision: view.revision, keys: view.keys,
                                    createdMs: WallClock.milliseconds(), state: KVStateMachine.serialize(view.state))
                do {
                    let bytes = try BackupFile.write(backup, to: path)
                    self.events.log("backup of entry \(view.index) (revision \(view.revision), \(view.keys) keys) written to \(path): \(bytes) bytes")
                    reply.ok([("index", .number(String(view.index))), ("bytes", .number(String(bytes))),
                              ("revision", .number(String(view.revision))), ("keys", .number(String(view.keys))),
                              ("path", .string(path))])
                } catch {
                    reply.error(.badRequest, "the backup could not be written: \(error)")
                }
            }
        }
    }

    /// Tries each host in turn; one that is behind is asked again every 10 ms until `deadline`.
    private func askInTurn(_ hosts: [NodeHost], position: Int, revision: Int64, deadline: UInt64,
                           done: @escaping @Sendable (BackupView?) -> Void) {
        hosts[position].backupView(atLeastRevision: revision) { answer in
            switch answer {
            case .ready(let view):
                done(view)
            case .behind, .down:
                let next = (position + 1) % hosts.count
                guard self.router.clock.now() < deadline else { return done(nil) }
                let wait = next == 0 ? 10 : 0
                self.router.retryQueue.asyncAfter(deadline: .now() + .milliseconds(wait)) {
                    self.askInTurn(hosts, position: next, revision: revision, deadline: deadline, done: done)
                }
            }
        }
    }
}
