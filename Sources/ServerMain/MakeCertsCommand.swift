#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ClusterServer
import NodeHosting
import SecureChannel

/// `ServerMain --make-certs DIR --config FILE`: a certificate authority for the cluster and a
/// certificate per member, valid for the hosts of the member's addresses (plus localhost and
/// 127.0.0.1), so a class can turn TLS on in minutes. Exit status 0, or 2 with a message.
enum MakeCertsCommand {
    static func run(directory: String, config: ServerConfig, configPath: String) -> Int32 {
        var hosts: [[String]] = []
        if config.members.isEmpty {
            hosts = [unique([config.proxyHost, config.httpHost])]
        } else {
            let highest = config.members.map(\.id).max() ?? 0
            hosts = Array(repeating: [], count: highest + 1)
            for member in config.members {
                hosts[member.id] = unique([member.raft, member.client, member.http].compactMap { $0 }.compactMap(host))
            }
        }
        mkdir(directory, 0o755)
        do {
            let files = try CertificateMaker.writeCluster(directory: directory, memberHosts: hosts)
            print("wrote \(files.caCertificateFile) (the cluster's CA; keep \(files.caPrivateKeyFile) private)")
            for member in files.members { print("wrote \(member.certificateFile) and \(member.privateKeyFile)") }
            print("""

                Add to \(configPath):
                  "tls": {"cert": "\(directory)/member{id}.pem", "key": "\(directory)/member{id}-key.pem", "ca": "\(directory)/ca.pem"}
                Clients check the server with the CA: curl --cacert \(directory)/ca.pem https://…, ClientMain --tls-ca \(directory)/ca.pem
                """)
            return 0
        } catch {
            FileHandleStderr.write("ServerMain: --make-certs \(directory): \(error.message)\n")
            return 2
        }
    }

    static func host(_ address: String) -> String? {
        MemberAddresses.split(address)?.host
    }

    static func unique(_ hosts: [String]) -> [String] {
        var seen: [String] = []
        for host in hosts where !seen.contains(host) && !host.isEmpty { seen.append(host) }
        return seen
    }
}
