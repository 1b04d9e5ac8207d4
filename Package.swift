// swift-tools-version:6.0
import PackageDescription

// Dependencies point one way: executables → ClusterServer → (RaftCore, RaftStorage, KVStore, KVWire) → JSONText.
// RaftCore depends on nothing, not even Foundation.
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
        .target(name: "KVStore", dependencies: ["JSONText", "RaftCore"]),
        .target(name: "KVWire", dependencies: ["JSONText"]),
        .target(name: "RaftStorage", dependencies: ["RaftCore", "JSONText", "Checksum"]),
        .target(name: "FlightRecording", dependencies: ["RaftCore"]),
        .target(name: "RaftEngine", dependencies: ["RaftCore", "RaftStorage", "FlightRecording"]),
        .target(name: "RaftVerification", dependencies: ["RaftCore"]),
        .target(name: "RaftReplay", dependencies: ["RaftCore", "RaftEngine", "RaftStorage", "FlightRecording", "RaftVerification", "KVStore"]),
        .target(name: "ClusterServer", dependencies: ["RaftCore", "RaftEngine", "FlightRecording", "RaftStorage", "RaftWire", "KVStore", "KVWire", "JSONText",
                                                      "NetworkIO", "HTTPServer", "WebConsole"]),
        .target(name: "WebConsole"),
        .target(name: "LinCheck"),
        .target(name: "KVClient", dependencies: ["KVWire", "JSONText", "LinCheck"]),
        .executableTarget(name: "ServerMain", dependencies: ["ClusterServer", "FlightRecording", "RaftReplay", "KVClient", "JSONText",
                                                             "RaftCore"]),
        .executableTarget(name: "ClientMain", dependencies: ["KVClient"]),
        .executableTarget(name: "KVBench", dependencies: ["ClusterServer", "KVClient", "KVWire", "RaftCore", "LinCheck"]),
        .testTarget(name: "RaftCoreTests", dependencies: ["RaftCore"]),
        .testTarget(name: "RaftSimulationTests", dependencies: ["RaftCore", "RaftEngine", "RaftStorage", "RaftVerification",
                                                            "FlightRecording", "RaftReplay"]),
        .testTarget(name: "StorageAndWireTests", dependencies: ["RaftStorage", "RaftWire", "KVStore", "KVWire", "JSONText", "RaftCore", "Checksum"]),
        .testTarget(name: "KVClientTests", dependencies: ["KVClient", "JSONText"]),
        .testTarget(name: "LinCheckTests", dependencies: ["LinCheck", "RaftCore"]),
        .testTarget(name: "ClusterServerTests", dependencies: ["ClusterServer", "KVClient", "KVWire", "JSONText", "RaftCore", "LinCheck",
                                                           "FlightRecording", "RaftReplay"]),
        .testTarget(name: "EndToEndTests", dependencies: ["ServerMain", "ClientMain", "KVClient", "JSONText"]),
    ]
)

for target in package.targets {
    var settings = target.swiftSettings ?? []
    settings.append(.swiftLanguageMode(.v6))
    target.swiftSettings = settings
}
