// swift-tools-version:6.0
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "sluice",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        .library(name: "NetworkTypes", targets: ["NetworkTypes"]),
        .library(name: "KubeModels", targets: ["KubeModels"]),
        .library(name: "NFTables", targets: ["NFTables"]),
        .library(name: "Netfilter", targets: ["Netfilter"]),
        .library(name: "IPVS", targets: ["IPVS"]),
        .library(name: "KubeAPI", targets: ["KubeAPI"]),
        .library(name: "KubeAPITesting", targets: ["KubeAPITesting"]),
        .library(name: "SluiceTestSupport", targets: ["SluiceTestSupport"]),
        .library(name: "ProxyCore", targets: ["ProxyCore"]),
        .library(name: "Proxier", targets: ["Proxier"]),
        .library(name: "ManifestSource", targets: ["ManifestSource"]),
        .library(name: "Agent", targets: ["Agent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // C libraries: libnftnl + libmnl through pkg-config; apt names for a fresh machine.
        .systemLibrary(
            name: "CNetfilter",
            pkgConfig: "libnftnl libmnl",
            providers: [.apt(["libnftnl-dev", "libmnl-dev"])]
        ),
        // libipset through pkg-config (the IPVS backend's sets).
        .systemLibrary(name: "CIPSet", pkgConfig: "libipset", providers: [.apt(["libipset-dev"])]),
        // Macros and variadics Swift cannot call, as prefixed functions.
        .target(name: "CSluiceShims", dependencies: ["CNetfilter"]),
        // libipset's variadic callbacks and the set-index getsockopt, as prefixed functions.
        .target(name: "CIPSetShims", dependencies: ["CIPSet"]),

        // Addresses, prefixes, IP families and transport protocols: what every backend shares.
        .target(name: "NetworkTypes", swiftSettings: swiftSettings),
        // Kubernetes objects (Service, EndpointSlice, Node, ...) and store events, without HTTP.
        .target(name: "KubeModels", swiftSettings: swiftSettings),

        // Pure Swift model of an nftables ruleset: values, transaction, rendering, diff.
        .target(name: "NFTables", dependencies: ["NetworkTypes"], swiftSettings: swiftSettings),
        // Pure Swift model of the kernel's IPVS table and Sluice's ipsets: values and their diff.
        .target(name: "IPVS", dependencies: ["NetworkTypes"], swiftSettings: swiftSettings),
        // The only Swift module that sees C pointers: netlink batches and readback.
        .target(
            name: "Netfilter",
            dependencies: ["NFTables", "NetworkTypes", "IPVS", "CNetfilter", "CSluiceShims", "CIPSetShims"],
            swiftSettings: swiftSettings
        ),

        // Kubernetes API client and models.
        .target(
            name: "KubeAPI",
            dependencies: [
                "KubeModels",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // An in-process Kubernetes API server simulator for tests and benchmarks.
        .target(
            name: "KubeAPITesting",
            dependencies: [
                "KubeAPI", "KubeModels",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Pure algorithms: weighted Maglev tables, disruption measurement.
        .target(name: "Balancing", swiftSettings: swiftSettings),

        // Pure: Kubernetes objects → service ports and categorised endpoints; change tracking.
        .target(name: "ProxyCore", dependencies: ["KubeModels", "NetworkTypes"], swiftSettings: swiftSettings),
        // Services, EndpointSlices and Nodes from YAML/JSON files (offline desired state).
        .target(
            name: "ManifestSource",
            dependencies: ["KubeModels", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),

        // ProxyCore state → the nftables layout; incremental planner. Starts no processes.
        .target(name: "Proxier", dependencies: ["ProxyCore", "NetworkTypes", "NFTables", "Balancing"], swiftSettings: swiftSettings),

        // The one pipeline (sources → change tracker → backend → kernel) that `apply`, `diff`,
        // `agent` and `sluice-bench` call, behind a service-port-level backend protocol.
        .target(
            name: "Agent",
            dependencies: [
                "KubeModels", "KubeAPI", "NetworkTypes", "ProxyCore", "Proxier", "NFTables", "Netfilter", "ManifestSource",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // ProxyCore state → IPVS virtual services, the dummy interface's addresses; the IPVS backend.
        .target(name: "IPVSProxier", dependencies: ["ProxyCore", "IPVS", "NetworkTypes", "Netfilter"], swiftSettings: swiftSettings),

        // Helpers for tests: private network namespaces, running commands.
        .target(name: "SluiceTestSupport", dependencies: ["CSluiceShims"], swiftSettings: swiftSettings),

        .executableTarget(
            name: "sluice",
            dependencies: [
                "Agent", "NetworkTypes", "ProxyCore", "Proxier", "KubeAPI",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .testTarget(name: "NFTablesTests", dependencies: ["NFTables", "NetworkTypes"], swiftSettings: swiftSettings),
        .testTarget(
            name: "NetfilterTests",
            dependencies: ["NFTables", "NetworkTypes", "Netfilter", "SluiceTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "IPVSTests", dependencies: ["IPVS", "IPVSProxier", "ProxyCore", "NetworkTypes"], swiftSettings: swiftSettings),
        // Run inside a kernel with IPVS (Tests/vm/run.sh); on a kernel without it they are skipped.
        .testTarget(
            name: "IPVSKernelTests",
            dependencies: ["IPVS", "IPVSProxier", "ProxyCore", "Netfilter", "NetworkTypes", "SluiceTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "BalancingTests", dependencies: ["Balancing"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SluiceCLITests", dependencies: ["SluiceTestSupport", "KubeAPITesting", "KubeModels"], swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProxierTests",
            dependencies: ["Proxier", "ProxyCore", "NetworkTypes", "NFTables", "Netfilter", "Agent", "SluiceTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AgentTests",
            dependencies: ["Agent", "Proxier", "ProxyCore", "NetworkTypes", "NFTables", "Netfilter", "SluiceTestSupport",
                           "KubeAPI", "KubeAPITesting", "KubeModels", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ObservabilityTests",
            dependencies: [
                "Agent", "ProxyCore", "KubeModels", "NetworkTypes", "NFTables", "SluiceTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ProxyCoreTests", dependencies: ["ProxyCore", "KubeModels", "NetworkTypes"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ManifestSourceTests",
            dependencies: ["ManifestSource", "ProxyCore", "KubeModels", "NetworkTypes"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KubeAPITests",
            dependencies: ["KubeAPI", "KubeModels", "KubeAPITesting", "SluiceTestSupport"],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
