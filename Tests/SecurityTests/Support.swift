import Foundation
import SecureChannel

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() {
        let base = NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
        var template = Array((base + "raftkv-security-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: made!)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A cluster's certificates written by CertificateMaker, shared by the tests of one process.
/// Member 0 is valid for `node0.example` and 10.1.2.3, member 1 for `node1.example`.
enum Fixtures {
    static let cluster: (directory: TemporaryDirectory, files: CertificateMaker.ClusterFiles) = {
        let directory = TemporaryDirectory()
        let files = try! CertificateMaker.writeCluster(directory: directory.path,
                                                       memberHosts: [["node0.example", "10.1.2.3"], ["node1.example"]])
        return (directory, files)
    }()

    /// A second, unrelated cluster: its certificates must not be accepted by the first.
    static let stranger: (directory: TemporaryDirectory, files: CertificateMaker.ClusterFiles) = {
        let directory = TemporaryDirectory()
        return (directory, try! CertificateMaker.writeCluster(directory: directory.path, memberHosts: [["node0.example"]]))
    }()

    static func server(member: Int = 0, requireClientCertificate: Bool = true,
                       maximumVersion: TLSContext.ProtocolVersion = .tls13) throws -> TLSContext {
        let files = cluster.files
        return try TLSContext(role: .server, certificateFile: files.members[member].certificateFile,
                              privateKeyFile: files.members[member].privateKeyFile, trustedCAFile: files.caCertificateFile,
                              requireClientCertificate: requireClientCertificate, maximumVersion: maximumVersion)
    }

    static func client(member: Int? = 1, of files: CertificateMaker.ClusterFiles = cluster.files,
                       maximumVersion: TLSContext.ProtocolVersion = .tls13) throws -> TLSContext {
        try TLSContext(role: .client, certificateFile: member.map { files.members[$0].certificateFile },
                       privateKeyFile: member.map { files.members[$0].privateKeyFile },
                       trustedCAFile: cluster.files.caCertificateFile, maximumVersion: maximumVersion)
    }
}

/// A client and a server session joined in memory: `pump` carries each side's ciphertext to the
/// other until neither has anything to send, collecting plaintext and the first error of each side.
struct SessionPair {
    let client: TLSSession
    let server: TLSSession
    var clientReceived: [UInt8] = []
    var serverReceived: [UInt8] = []
    var clientError: TLSError?
    var serverError: TLSError?
    /// Largest ciphertext piece handed over at once (small values cut records apart).
    var pieceSize = Int.max

    init(client: TLSContext, server: TLSContext, serverName: String = "localhost") throws {
        self.client = try TLSSession(context: client, serverName: serverName)
        self.server = try TLSSession(context: server)
    }

    mutating func pump() {
        var moved = true
        while moved {
            let fromClient = client.takeCiphertext(), fromServer = server.takeCiphertext()
            moved = !fromClient.isEmpty || !fromServer.isEmpty
            Self.deliver(fromClient, in: pieceSize, to: server, into: &serverReceived, error: &serverError)
            Self.deliver(fromServer, in: pieceSize, to: client, into: &clientReceived, error: &clientError)
        }
    }

    private static func deliver(_ bytes: [UInt8], in pieceSize: Int, to session: TLSSession, into received: inout [UInt8],
                                error: inout TLSError?) {
        var start = 0
        while start < bytes.count, error == nil {
            let end = min(bytes.count, start &+ pieceSize)
            do {
                try bytes[start..<end].withUnsafeBytes { try session.receive($0, appendingPlaintextTo: &received) }
            } catch let failure as TLSError {
                error = failure
            } catch {
                fatalError("not a TLSError: \(error)")
            }
            start = end
        }
    }
}

/// Runs a command and returns its exit status and standard output plus standard error.
func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
