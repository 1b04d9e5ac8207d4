// swift-tools-version:6.0
import PackageDescription

// Dependencies point one way: executables → ClusterServer → (RaftCore, RaftStorage, KVStore, KVWire) → JSONText.
// RaftCore depends on nothing, not even Foundation.
// The server's front: ClientEdge (the line proxy, the HTTP API) and GuidedScenarios → ClientFront (routing,
// admin, ReplayLibrary) → TimeTravelFront (viewing a recording: ReplayView, ReplayService, the replay page).
// The client: ClientMain → ClientShell (the REPL and one-shot commands) → KVRecipes (locks, elections,
// lease keepalive) → KVClient (the client library) → KVWire.
let package = Package(
    name: "RaftKV",
    products: [
        .executable(name: "ServerMain", targets: ["ServerMain"]),
        .executable(name: "ClientMain", targets: ["ClientMain"]),
        .executable(name: "KVBench", targets: ["KVBench"]),
    ],
    targets: [
        .target(name: "RaftCore"),
        .target(name: "JSONText"),
        .target(name: "Checksum"),
        .target(name: "NetworkIO"),
        .target(name: "HTTPServer", dependencies: ["NetworkIO"]),
        .target(name: "RaftWire", dependencies: ["RaftCore", "Checksum"]),
        .target(name: "KVStore", dependencies: ["JSONText", "RaftCore", "KVWire"]),
        .target(name: "KVWire", dependencies: ["JSONText"]),
        .target(name: "RaftStorage", dependencies: ["RaftCore", "JSONText", "Checksum"]),
        .target(name: "FlightRecording", dependencies: ["RaftCore"]),
        .target(name: "RaftEngine", dependencies: ["RaftCore", "RaftStorage", "FlightRecording"]),
        .target(name: "RaftVerification", dependencies: ["RaftCore"]),
        .target(name: "RaftReplay", dependencies: ["RaftCore", "RaftEngine", "RaftStorage", "FlightRecording", "RaftVerification", "KVStore"]),
        .target(name: "RuntimeSupport", dependencies: ["JSONText"]),
        .target(name: "NodeHosting", dependencies: ["RuntimeSupport", "RaftCore", "RaftEngine", "RaftStorage", "FlightRecording",
                                                    "KVStore", "JSONText"]),
        .target(name: "ClusterTransport", dependencies: ["NodeHosting", "RuntimeSupport", "RaftCore", "RaftWire", "RaftStorage",
                                                         "KVWire", "JSONText"]),
        .target(name: "Observability", dependencies: ["NodeHosting", "ClusterTransport", "RuntimeSupport", "RaftCore", "RaftEngine",
                                                      "HTTPServer", "KVWire", "JSONText"]),
        .target(name: "TimeTravelFront", dependencies: ["ClusterTransport", "FlightRecording", "HTTPServer", "JSONText", "KVStore", "KVWire",
                                                        "RaftCore", "RaftReplay", "WebConsole"]),
        .target(name: "ClientFront", dependencies: ["TimeTravelFront", "NodeHosting", "ClusterTransport", "Observability", "RuntimeSupport", "RaftCore",
                                                    "RaftEngine", "RaftStorage", "KVStore", "KVWire", "JSONText", "RaftReplay"]),
        .target(name: "GuidedScenarios", dependencies: ["ClientFront", "ClusterTransport", "NodeHosting", "RuntimeSupport", "RaftCore",
                                                        "RaftEngine", "KVStore", "KVWire", "JSONText", "LinCheck"]),
        .target(name: "ClientEdge", dependencies: ["ClientFront", "SecureChannel", "NodeHosting", "ClusterTransport", "Observability",
                                                   "RuntimeSupport", "RaftCore", "RaftStorage", "KVStore", "KVWire", "JSONText", "NetworkIO",
                                                   "HTTPServer", "WebConsole"]),
        .target(name: "MemberNetwork", dependencies: ["SecureChannel", "ClientFront", "ClusterTransport", "NodeHosting", "RuntimeSupport", "RaftCore",
                                                      "RaftEngine", "RaftWire", "RaftStorage", "KVStore", "KVWire", "JSONText",
                                                      "NetworkIO"]),
        .target(name: "ClusterServer", dependencies: ["KVClient", "SecureChannel", "ClientFront", "ClientEdge", "GuidedScenarios",
                                                      "MemberNetwork", "ClusterTransport", "Observability",
                                                      "NodeHosting", "RuntimeSupport", "RaftCore", "RaftEngine", "RaftStorage",
                                                      "KVWire", "JSONText", "NetworkIO", "HTTPServer"]),
        .target(name: "WebConsole"),
        .target(name: "LinCheck"),
        // The system's OpenSSL (Debian's libssl-dev), for TLS, HMAC and random bytes: no package dependency.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "SecureChannel", dependencies: ["COpenSSL", "NetworkIO"]),
        .target(name: "KVClient", dependencies: ["KVWire", "JSONText", "SecureChannel", "NetworkIO"]),
        .target(name: "KVRecipes", dependencies: ["KVClient", "KVWire", "JSONText"]),
        .target(name: "ClientShell", dependencies: ["KVClient", "KVRecipes", "KVWire", "JSONText", "LinCheck"]),
        .executableTarget(name: "ServerMain", dependencies: ["SecureChannel", "ClusterServer", "RuntimeSupport", "NodeHosting", "FlightRecording", "RaftReplay", "KVClient", "ClientShell", "JSONText",
                                                             "RaftCore", "TimeTravelFront", "HTTPServer"]),
        .executableTarget(name: "ClientMain", dependencies: ["ClientShell", "KVClient", "JSONText"]),
        .executableTarget(name: "KVBench", dependencies: ["ClusterServer", "RuntimeSupport", "KVClient", "ClientShell", "KVWire", "RaftCore", "LinCheck"]),
        .testTarget(name: "RaftCoreTests", dependencies: ["RaftCore"]),
        .testTarget(name: "RaftSimulationTests", dependencies: ["RaftCore", "RaftEngine", "RaftStorage", "RaftVerification",
                                                            "FlightRecording", "RaftReplay"]),
        .testTarget(name: "StorageAndWireTests", dependencies: ["RaftStorage", "RaftWire", "KVStore", "KVWire", "JSONText", "RaftCore", "Checksum"]),
        .testTarget(name: "KVClientTests", dependencies: ["KVClient", "KVRecipes", "ClientShell", "JSONText"]),
        .testTarget(name: "LinCheckTests", dependencies: ["LinCheck", "RaftCore"]),
        .testTarget(name: "ClusterServerTests", dependencies: ["ClusterServer", "RuntimeSupport", "NodeHosting", "ClusterTransport",
                                                           "ClientFront", "ClientEdge", "MemberNetwork", "Observability", "KVClient", "ClientShell", "KVWire", "JSONText", "RaftCore", "LinCheck", "RaftStorage",
                                                           "FlightRecording", "RaftReplay"]),
        .testTarget(name: "SecurityTests", dependencies: ["SecureChannel", "COpenSSL"]),
        .testTarget(name: "EndToEndTests", dependencies: ["ServerMain", "ClientMain", "KVClient", "JSONText"]),
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.swiftLanguageMode(.v6))
    target.swiftSettings = settings
}
