#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ClusterServer
import NodeHosting
import RaftCore

/// `ServerMain --restore FILE --data-dir DIR [--nodes N | --config FILE]`: writes a new cluster's
/// files under DIR from a backup (`{"admin":"backup"}`, ClientMain `backup FILE`), for voters
/// 0..N-1 or the config's initial members; the cluster then starts as usual on DIR. A damaged
/// or truncated backup, or a directory that already holds files, is refused with exit status 2
/// and nothing written.
enum RestoreCommand {
    static func run(backupPath: String, options: ServerOptions) -> Int32 {
        var config = ServerConfig()
        let defaultMissing = !options.configGiven && access(options.configPath, F_OK) != 0
        if !defaultMissing {
            do {
                config = try ServerConfig.load(path: options.configPath)
            } catch {
                fail("bad configuration: \(error)")
            }
        }
        options.apply(to: &config)
        let nodesGiven = options.overrides.contains { $0.flag == "--nodes" }
        if options.node != nil { fail("--restore writes the files of every member; leave out --node") }
        let configuration: ClusterConfiguration
        if !config.members.isEmpty {
            if nodesGiven { fail("--restore takes --nodes N or a config with \"members\", not both (\(options.configPath) has members)") }
            configuration = ClusterConfiguration(members: config.members.filter(\.initial).map { member in
                Member(id: member.id, isVoter: true,
                       context: MemberAddresses(raft: member.raft, client: member.client, http: member.http).context)
            })
        } else {
            configuration = .voters(Array(0..<config.nodes))
        }
        let summary: ClusterRestore.Summary
        do {
            summary = try ClusterRestore.restore(backupPath: backupPath, into: config.dataDirectory, configuration: configuration,
                                                 fsync: config.fsync)
        } catch {
            fail("--restore \(backupPath): \(error.description)")
        }
        let backup = summary.backup
        let nodes = summary.nodes.map(String.init).joined(separator: ",")
        print("""
            restored \(backupPath): entry \(backup.index), revision \(backup.revision), \(backup.keys) keys
            into \(config.dataDir) for a new cluster of voters \(nodes) (\(summary.files.count) files: snapshot, meta, log and bootstrap per node)
            start it with: \(config.members.isEmpty
                ? "ServerMain --data-dir \(config.dataDir) --nodes \(summary.nodes.count)" + (options.configGiven ? " --config \(options.configPath)" : "")
                : "ServerMain --config \(options.configPath) --node N (each member, with the same data files)")
            """)
        return 0
    }
}
