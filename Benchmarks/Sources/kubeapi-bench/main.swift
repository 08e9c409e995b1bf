// kubeapi-bench: list+decode and watch throughput of KubeAPI against KubeAPITesting.
//
// The simulator runs in a child process (this executable with `serve`), so that the peak
// RSS reported is the client's alone. Everything goes over loopback TLS.
//
//   swift run -c release kubeapi-bench [--services N] [--watch-events N]
import Foundation
import KubeAPI
import ClusterShapes
import KubeAPITesting
import KubeModels
import Logging
import NIOCore

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]) else { return fallback }
    return v
}

var logger = Logger(label: "kubeapi-bench")
logger.logLevel = .warning

/// User + system CPU seconds of this process so far.
func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
}

func peakRSSMiB() -> Double {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
    else { return -1 }
    return kb / 1024
}

// MARK: child: the simulator

if arguments.count > 1, arguments[1] == "serve" {
    let n = option("--services", 10_000)
    let watchEvents = option("--watch-events", 100_000)
    let sim = try await KubeAPISimulator.start(SimulatorOptions(tls: !arguments.contains("--plain"), historyLimit: 2 * n + watchEvents + 10), logger: logger)
    for i in 0..<n {
        try sim.create(makeService(i))
        try sim.create(makeSlice(i))
    }
    let listRV = sim.resourceVersion
    // `--events-per-chunk N`: pack watch events N to an HTTP chunk (default: one, as the apiserver flushes).
    sim.setWatchStreamShape(WatchStreamShape(eventsPerChunk: option("--events-per-chunk", 1)))
    // Watch history: modifications of the slices, served as fast as the client reads.
    var i = 0
    while i < watchEvents {
        try sim.update(makeSlice(i % n, generation: i / n + 1).withMetadata(sim.object(EndpointSlice.self, namespace: "ns-\(i % n % 50)", name: "svc-\(i % n)-abcde")?.metadata))
        i += 1
    }
    let caPath = arguments[arguments.count - 1]
    try (sim.certificateAuthorityPEM ?? "").write(toFile: caPath, atomically: true, encoding: .utf8)
    FileHandle.standardOutput.write(Data("READY \(sim.port) \(listRV) \(sim.resourceVersion)\n".utf8))
    // Serve until the parent closes our stdin.
    _ = FileHandle.standardInput.readDataToEndOfFile()
    try await sim.shutdown()
    exit(0)
}

extension EndpointSlice {
    func withMetadata(_ meta: ObjectMeta?) -> EndpointSlice {
        var s = self
        if let meta { s.metadata = meta }
        return s
    }
}

// MARK: decode only: the ceiling of watch throughput without the network

if arguments.count > 1, arguments[1] == "decode" {
    let n = option("--events", 100_000)
    let one = try JSONEncoder().encode(WatchEvent<EndpointSlice>.modified(makeSlice(7)))
    var stream = ByteBuffer()
    for _ in 0..<1000 { stream.writeBytes(one); stream.writeString("\n") }
    let decoder = JSONDecoder()
    if arguments.contains("--intern"), let key = StringInterner.userInfoKey { decoder.userInfo[key] = StringInterner() }
    let t0 = ContinuousClock.now
    var framer = JSONStreamFramer()
    var count = 0
    var bytes: [[UInt8]] = []
    while count < n {
        try framer.feed(stream) { bytes.append($0) }
        for b in bytes {
            _ = try decoder.decode(WatchEvent<EndpointSlice>.self, from: Data(b))
            count += 1
        }
        bytes.removeAll(keepingCapacity: true)
    }
    let d = ContinuousClock.now - t0
    let secs = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    print(String(format: "decode only: %d events (%d bytes each) in %.3f s = %.0f events/s", count, one.count, secs, Double(count) / secs))
    // Batched: 100 events per decoder call, as a JSON array.
    var arr = Data("[".utf8)
    for i in 0..<100 { if i > 0 { arr.append(contentsOf: Array(",".utf8)) }; arr.append(one) }
    arr.append(contentsOf: Array("]".utf8))
    let b0 = ContinuousClock.now
    var bc = 0
    while bc < n { bc += try decoder.decode([WatchEvent<EndpointSlice>].self, from: arr).count }
    let bd = ContinuousClock.now - b0
    let bsecs = Double(bd.components.seconds) + Double(bd.components.attoseconds) / 1e18
    print(String(format: "decode batched x100: %.0f events/s", Double(bc) / bsecs))
    let objectOnly = try JSONEncoder().encode(makeSlice(7))
    let o0 = ContinuousClock.now
    for _ in 0..<n { _ = try decoder.decode(EndpointSlice.self, from: objectOnly) }
    let od = ContinuousClock.now - o0
    print(String(format: "object only (no envelope): %.0f objects/s", Double(n) / (Double(od.components.seconds) + Double(od.components.attoseconds) / 1e18)))
    // Memory of the decoded objects alone, without any transport.
    let before = peakRSSMiB()
    var svcs: [ObjectKey: Service] = [:]
    var slices: [ObjectKey: EndpointSlice] = [:]
    let encoder = JSONEncoder()
    for i in 0..<10_000 {
        var s = makeService(i)
        s.metadata.uid = UUID().uuidString.lowercased()
        s.metadata.creationTimestamp = "2026-11-25T16:00:00Z"
        s.metadata.resourceVersion = String(100_000 + i)
        let sv = try decoder.decode(Service.self, from: encoder.encode(s))
        svcs[sv.key] = sv
        var e = makeSlice(i)
        e.metadata.uid = UUID().uuidString.lowercased()
        e.metadata.creationTimestamp = "2026-11-25T16:00:00Z"
        e.metadata.resourceVersion = String(200_000 + i)
        let ev = try decoder.decode(EndpointSlice.self, from: encoder.encode(e))
        slices[ev.key] = ev
    }
    print(String(format: "10k Services + 10k EndpointSlices held in dictionaries: peak RSS %.1f MiB (%.1f before)", peakRSSMiB(), before))
    exit(0)
}

// MARK: parent: the client

let services = option("--services", 10_000)
let watchEvents = option("--watch-events", 100_000)
let caPath = FileManager.default.temporaryDirectory.appendingPathComponent("kubeapi-bench-ca-\(getpid()).pem").path
let toChild = Pipe()
let fromChild = Pipe()
let child = Process()
let port: Int
let listRV: Int
if let i = arguments.firstIndex(of: "--attach"), i + 3 < arguments.count, let p = Int(arguments[i + 1]), let rv = Int(arguments[i + 2]) {
    // Profiling: talk to a simulator started separately with `serve`.
    port = p
    listRV = rv
    try FileManager.default.copyItem(atPath: arguments[i + 3], toPath: caPath)
} else {
    child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    child.arguments = ["serve", "--services", String(services), "--watch-events", String(watchEvents), "--events-per-chunk", String(option("--events-per-chunk", 1))]
        + (arguments.contains("--plain") ? ["--plain"] : []) + [caPath]
    child.standardInput = toChild
    child.standardOutput = fromChild
    let setupStart = ContinuousClock.now
    try child.run()
    var line = ""
    while !line.hasSuffix("\n") {
        let d = fromChild.fileHandleForReading.readData(ofLength: 1)
        if d.isEmpty { break }
        line += String(decoding: d, as: UTF8.self)
    }
    let parts = line.split(separator: " ")
    guard parts.count == 4, parts[0] == "READY", let p = Int(parts[1]), let rv = Int(parts[2]) else {
        print("simulator did not start: \(line)")
        exit(1)
    }
    port = p
    listRV = rv
    print("simulator ready with \(services) Services, \(services) EndpointSlices (2 endpoints each), \(watchEvents) watch events in history (setup \(ContinuousClock.now - setupStart))")
}
let ca = try String(contentsOfFile: caPath, encoding: .utf8)
// `--plain`: HTTP instead of HTTPS, to see what TLS costs.
let config = arguments.contains("--plain")
    ? ClusterConfig(server: "http://127.0.0.1:\(port)")
    : ClusterConfig(server: "https://127.0.0.1:\(port)", tls: TLSSettings(certificateAuthorityPEM: Array(ca.utf8)))
let client = try KubeClient(config: config, logger: logger)

// 1. list + decode, as the agent starts: two reflectors, paged lists of 500, into stores.
let rssBefore = peakRSSMiB()
let clock = ContinuousClock()
let t0 = clock.now
let svcStore = ObjectStore<Service>()
let sliceStore = ObjectStore<EndpointSlice>()
let timing = ReflectorTiming()
let pageSize = option("--page-size", 500)
var svcOptions = ReflectorOptions<Service>.services(timing: timing)
svcOptions.pageSize = pageSize
var sliceOptions = ReflectorOptions<EndpointSlice>.endpointSlices(timing: timing)
sliceOptions.pageSize = pageSize
let r1 = Task { try await Reflector(client: client, store: svcStore, options: svcOptions, logger: logger).run() }
let r2 = Task { try await Reflector(client: client, store: sliceStore, options: sliceOptions, logger: logger).run() }
while !(svcStore.hasSynced && sliceStore.hasSynced) {
    try await Task.sleep(for: .milliseconds(1))
}
let listTime = clock.now - t0
r1.cancel()
r2.cancel()
_ = await (r1.result, r2.result)
let rssAfterList = peakRSSMiB()
precondition(svcStore.count == services && sliceStore.count == services, "stores incomplete")
print(String(format: "list+decode %d Services + %d EndpointSlices: %.3f s, peak RSS %.1f MiB (%.1f MiB before)",
             services, services, Double(listTime.components.seconds) + Double(listTime.components.attoseconds) / 1e18, rssAfterList, rssBefore))

// 2. watch throughput: replay the history of slice modifications, decode every event.
let cpu0 = cpuSeconds()
let w0 = clock.now
// Detached: the event handler must not be isolated to the main actor, or every event would
// hop there and back (the agent's Reflector runs its watch in a task of its own, too).
let count = try await Task.detached {
    var count = 0
    do {
        try await client.watch(EndpointSlice.self, WatchOptions(resourceVersion: String(listRV), timeoutSeconds: 600)) { event in
            if case .modified = event { count += 1 }
            if count >= watchEvents { throw CancellationError() }
        }
    } catch is CancellationError {}
    return count
}.value
let watchTime = clock.now - w0
let secs = Double(watchTime.components.seconds) + Double(watchTime.components.attoseconds) / 1e18
print(String(format: "watch: %d events decoded in %.3f s = %.0f events/s (client CPU %.3f s), peak RSS %.1f MiB", count, secs, Double(count) / secs, cpuSeconds() - cpu0, peakRSSMiB()))

try await client.shutdown()
try toChild.fileHandleForWriting.close()
if child.isRunning { child.waitUntilExit() }
try? FileManager.default.removeItem(atPath: caPath)
