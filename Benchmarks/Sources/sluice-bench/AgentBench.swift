import Agent
import ArgumentParser
import ClusterShapes
import Foundation
import KubeAPI
import KubeAPITesting
import KubeModels
import Logging
import NetworkTypes
import ProxyCore
import SluiceTestSupport
import Synchronization

/// The agent's figures (issue 8): cold start, RSS and idle CPU of the `sluice agent` process
/// against an API server holding N Services + N EndpointSlices; and event-to-kernel latency
/// under a steady rate of endpoint changes and under a storm, from the simulator's write to
/// the kernel's acceptance of the sync that carries it.
struct AgentBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "sluice agent: cold start, RSS, idle CPU; event-to-kernel latency under load.")

    @Option(help: "Comma-separated Service counts for the cold start.")
    var services: String = "10000,100000"

    @Option(help: "Services behind the latency runs.")
    var latencyServices: Int = 10_000

    @Option(help: "Endpoint changes per second, steady run.")
    var rate: Int = 100

    @Option(help: "Seconds of the steady run.")
    var seconds: Int = 30

    @Option(help: "Endpoint changes per second, storm.")
    var stormRate: Int = 1000

    @Option(help: "Seconds of the storm.")
    var stormSeconds: Int = 60

    @Option(help: "Seconds the idle agent is watched for CPU (the default sync period is 30 s).")
    var idleSeconds: Int = 60

    @Option(help: "The sluice executable (default: next to this one).")
    var sluice: String?

    func run() async throws {
        let binary = sluice ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sluice").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ValidationError("no sluice executable at \(binary): build it (swift build -c release --product sluice) or pass --sluice")
        }
        print("| Services | cold start: process start → first sync (s) | agent RSS after sync (MiB) | peak RSS (MiB) | idle CPU over \(idleSeconds) s (% of a core) |")
        print("|---|---|---|---|---|")
        for n in services.split(separator: ",").compactMap({ Int($0) }) {
            let r = try await ColdStart(services: n, sluice: binary, idleSeconds: idleSeconds).run()
            print(String(format: "| %d | %.2f | %.1f | %.1f | %.2f |", n, r.seconds, r.rssMiB, r.peakMiB, r.idleCPUPercent))
        }
        print("")
        print("| Services | changes/s | seconds | changes | syncs | event → kernel p50 (ms) | p99 (ms) | max (ms) | RSS start → end (MiB) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for (rate, seconds) in [(rate, self.seconds), (stormRate, stormSeconds)] {
            let r = try await LatencyRun(services: latencyServices, rate: rate, seconds: seconds).run()
            print(String(format: "| %d | %d | %d | %d | %d | %.1f | %.1f | %.1f | %.0f → %.0f |", latencyServices, rate, seconds,
                         r.latencies.count, r.syncs, r.percentile(0.5) * 1e3, r.percentile(0.99) * 1e3,
                         (r.latencies.max() ?? 0) * 1e3, r.rssStart, r.rssEnd))
        }
    }
}

/// Resident and peak resident memory of a process, MiB.
func memory(of pid: Int32) -> (rss: Double, peak: Double) {
    guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (-1, -1) }
    func field(_ name: String) -> Double {
        guard let line = s.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
              let kb = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return -1 }
        return kb / 1024
    }
    return (field("VmRSS:"), field("VmHWM:"))
}

/// User + system CPU seconds a process has used.
func cpuSeconds(of pid: Int32) -> Double {
    guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = s.lastIndex(of: ")") else { return -1 }
    let fields = s[s.index(after: close)...].split(separator: " ")
    // After the command: state is field 3; utime and stime are fields 14 and 15.
    guard fields.count > 13, let u = Double(fields[11]), let k = Double(fields[12]) else { return -1 }
    return (u + k) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// `sluice agent` started as a process in a namespace where an API server (this executable's
/// `serve-api`) holds N Services and N EndpointSlices.
struct ColdStart {
    var services: Int
    var sluice: String
    var idleSeconds: Int

    func run() async throws -> (seconds: Double, rssMiB: Double, peakMiB: Double, idleCPUPercent: Double) {
        let ns = try NetworkNamespace("sl-agent")
        defer { ns.delete() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-bench-agent-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let kubeconfig = dir.appendingPathComponent("kubeconfig").path

        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["ip", "netns", "exec", ns.name, CommandLine.arguments[0], "serve-api", "--services", String(services),
                            "--kubeconfig", kubeconfig]
        let ready = Pipe()
        server.standardOutput = ready
        try server.run()
        defer { server.terminate() }
        guard let line = String(data: ready.fileHandleForReading.availableData, encoding: .utf8), line.hasPrefix("READY") else {
            throw ValidationError("the API server did not start")
        }
        FileHandle.standardError.write(Data("agent: \(services) Services served; starting sluice agent\n".utf8))

        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        agent.arguments = ["ip", "netns", "exec", ns.name, sluice, "agent", "--kubeconfig", kubeconfig,
                           "--hostname-override", "node-0", "--cluster-cidr", "10.244.0.0/16"]
        let log = Pipe()
        agent.standardError = log
        agent.standardOutput = FileHandle.nullDevice
        let start = Date()
        try agent.run()
        defer { agent.terminate() }
        var seen = ""
        while !seen.contains("sync.kind=full") {
            let chunk = log.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw ValidationError("sluice agent ended before its first sync:\n\(seen)") }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        let seconds = Date().timeIntervalSince(start)
        // `ip netns exec` execs the agent: same pid.
        let pid = agent.processIdentifier
        let (rss, _) = memory(of: pid)
        // Keep draining the log so the agent never blocks on a full pipe.
        let drain = Thread { while !log.fileHandleForReading.availableData.isEmpty {} }
        drain.start()
        let cpu0 = cpuSeconds(of: pid)
        try await Task.sleep(for: .seconds(idleSeconds))
        let cpu1 = cpuSeconds(of: pid)
        let (_, peak) = memory(of: pid)
        return (seconds, rss, peak, (cpu1 - cpu0) / Double(idleSeconds) * 100)
    }
}

/// The API server of `ColdStart`, as a process of its own inside the namespace.
struct ServeAPICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve-api", abstract: "Serve N Services and EndpointSlices (and Node node-0) over TLS until killed.", shouldDisplay: false)

    @Option var services: Int
    @Option var kubeconfig: String

    func run() async throws {
        var logger = Logger(label: "serve-api")
        logger.logLevel = .critical
        let sim = try await KubeAPISimulator.start(SimulatorOptions(tokens: ["bench": "sluice"], historyLimit: 1000), logger: logger)
        try sim.create(Node(metadata: ObjectMeta(name: "node-0", labels: ["topology.kubernetes.io/zone": "zone-0"]),
                            status: NodeStatus(addresses: [.init(type: "InternalIP", address: "10.0.0.1")])))
        for i in 0..<services {
            try sim.create(makeService(i))
            try sim.create(makeSlice(i))
        }
        try sim.kubeconfig(token: "bench").write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        FileHandle.standardOutput.write(Data("READY\n".utf8))
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}

/// Event-to-kernel latency, in process: the simulator and the agent's loop and API source run
/// here (the loop's netlink socket in a namespace); each change gives one Service's slice a new
/// endpoint address, and its latency ends when a sync carrying that address is accepted.
struct LatencyRun {
    var services: Int
    var rate: Int
    var seconds: Int

    final class Watch: SyncObserver {
        struct State {
            var sent: [ServicePortKey: (address: IPAddress, at: ContinuousClock.Instant)] = [:]
            var latencies: [Double] = []
            var syncs = 0
            var firstSync = false
        }
        let state = Mutex(State())

        func synced(_ outcome: SyncOutcome, ports: [ServicePortKey: ServicePortInfo]) {
            guard outcome.succeeded else { return }
            let now = ContinuousClock.now
            state.withLock { s in
                s.syncs += 1
                s.firstSync = true
                for (key, change) in s.sent {
                    guard let port = ports[key], port.clusterEndpoints.contains(where: { $0.address == change.address }) else { continue }
                    let d = (now - change.at).components
                    s.latencies.append(Double(d.seconds) + Double(d.attoseconds) / 1e18)
                    s.sent[key] = nil
                }
            }
        }
    }

    struct Result {
        var latencies: [Double]
        var syncs: Int
        var rssStart: Double
        var rssEnd: Double
        func percentile(_ p: Double) -> Double {
            let s = latencies.sorted()
            return s.isEmpty ? 0 : s[min(s.count - 1, Int(Double(s.count) * p))]
        }
    }

    func run() async throws -> Result {
        var logger = Logger(label: "agent-bench")
        logger.logLevel = .critical
        let sim = try await KubeAPISimulator.start(SimulatorOptions(historyLimit: 100_000), logger: logger)
        for i in 0..<services {
            try sim.create(makeService(i))
            try sim.create(makeSlice(i))
        }
        let ns = try NetworkNamespace("sl-lat")
        defer { ns.delete() }
        let node = NodeContext(nodeName: "node-0", clusterCIDRs: [IPPrefix("10.244.0.0/16")!])
        let backend = try ns.enter { try NFTablesBackend(node: node, conntrack: nil) }
        let watch = Watch()
        let loop = SyncLoop(pipeline: ProxyPipeline(node: node, backend: backend), settings: NodeSettings(node),
                            requires: Set(SourceKind.allCases), observer: watch, logger: logger)
        let client = try KubeClient(config: sim.clusterConfig(), logger: logger)
        let source = APISource(client: client, nodeName: "node-0", proxyName: nil, inbox: loop.inbox, logger: logger)
        let result = try await withThrowingTaskGroup(of: Void.self) { group -> Result in
            group.addTask { try await loop.run() }
            group.addTask { try await source.run() }
            defer { group.cancelAll() }
            while !watch.state.withLock({ $0.firstSync }) { try await Task.sleep(for: .milliseconds(10)) }
            FileHandle.standardError.write(Data("agent: \(services) Services synced; \(rate) changes/s for \(seconds) s\n".utf8))
            let rssStart = memory(of: getpid()).rss
            // Changes in ticks of 10 ms; change k moves Service k*7919 mod N to a fresh address.
            let perTick = max(1, rate / 100)
            let ticks = seconds * rate / perTick
            let start = ContinuousClock.now
            for tick in 0..<ticks {
                try await Task.sleep(until: start + .milliseconds(tick * 1000 * perTick / rate), clock: .continuous)
                for j in 0..<perTick {
                    let k = tick * perTick + j
                    let i = (k * 7919) % services
                    var slice = makeSlice(i)
                    let address = "10.\(200 + k / 65536 % 50).\(k / 256 % 256).\(k % 256)"
                    slice.endpoints[0].addresses = [address]
                    let key = ServicePortKey(name: ServicePortName(namespace: "ns-\(i % 50)", name: "svc-\(i)", port: "http", protocol: .tcp),
                                             family: .v4)
                    let at = ContinuousClock.now
                    watch.state.withLock { $0.sent[key] = (IPAddress(address)!, at) }
                    try sim.apply(slice)
                }
            }
            // Let the last changes land.
            try await Task.sleep(for: .seconds(1))
            let s = watch.state.withLock { $0 }
            return Result(latencies: s.latencies, syncs: s.syncs, rssStart: rssStart, rssEnd: memory(of: getpid()).rss)
        }
        try await client.shutdown()
        try await sim.shutdown()
        return result
    }
}
