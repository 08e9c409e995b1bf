// swift-tools-version:6.1
import PackageDescription

// Benchmarks live in their own package so that `make test` never builds them.
//   swift run -c release sluice-bench load --services 10000,100000   (scale runner)
//   swift run -c release kubeapi-bench                               (API client throughput)
//   swift package benchmark                                          (micro-benchmarks)
// The root package is named explicitly: a path dependency otherwise takes the folder's name.
let package = Package(
    name: "sluice-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "sluice", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // Service-shaped rulesets, as model transactions and as `nft -f` text.
        .target(name: "BenchShapes", dependencies: [
            .product(name: "NFTables", package: "sluice"), .product(name: "NetworkTypes", package: "sluice"),
        ]),
        // Services and EndpointSlices as the API serves them, at scale.
        .target(name: "ClusterShapes", dependencies: [.product(name: "KubeModels", package: "sluice")]),
        .executableTarget(
            name: "sluice-bench",
            dependencies: [
                "BenchShapes",
                "ClusterShapes",
                .product(name: "Agent", package: "sluice"),
                .product(name: "KubeAPI", package: "sluice"),
                .product(name: "KubeAPITesting", package: "sluice"),
                .product(name: "KubeModels", package: "sluice"),
                .product(name: "NetworkTypes", package: "sluice"),
                .product(name: "NFTables", package: "sluice"),
                .product(name: "Netfilter", package: "sluice"),
                .product(name: "Proxier", package: "sluice"),
                .product(name: "ProxyCore", package: "sluice"),
                .product(name: "SluiceTestSupport", package: "sluice"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "NetfilterBenchmarks",
            dependencies: [
                "BenchShapes",
                .product(name: "Netfilter", package: "sluice"),
                .product(name: "Benchmark", package: "package-benchmark"),
            ],
            path: "Benchmarks/NetfilterBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // List+decode and watch throughput of KubeAPI against the simulator, over loopback TLS.
        .executableTarget(
            name: "kubeapi-bench",
            dependencies: [
                "ClusterShapes",
                .product(name: "KubeAPI", package: "sluice"),
                .product(name: "KubeModels", package: "sluice"),
                .product(name: "KubeAPITesting", package: "sluice"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
