import Foundation
import KubeAPI
import KubeAPITesting
import KubeModels
import Logging
import Testing

let quietLogger: Logger = {
    var l = Logger(label: "kubeapi-tests")
    l.logLevel = ProcessInfo.processInfo.environment["KUBEAPI_TEST_LOG"] == nil ? .critical : .debug
    return l
}()

/// Production-shaped timings shrunk so that faults resolve in milliseconds.
let fastTiming = ReflectorTiming(
    watchTimeout: 5...10,
    watchGrace: .seconds(5),
    backoff: Backoff(initial: .milliseconds(20), maximum: .milliseconds(200), jitter: 0.5, resetAfter: .seconds(1)),
    forbiddenRetry: .milliseconds(150),
    maxRetryAfter: .seconds(2)
)

struct TimeoutError: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Polls `condition` until it holds; fails after `timeout`. Every wait in these tests is bounded.
func eventually(_ what: String, timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw TimeoutError(what: what)
}

/// Runs `body` against a fresh simulator, shut down afterwards.
func withSimulator<T>(_ options: SimulatorOptions = SimulatorOptions(), _ body: (KubeAPISimulator) async throws -> T) async throws -> T {
    let sim = try await KubeAPISimulator.start(options, logger: quietLogger)
    do {
        let r = try await body(sim)
        try await sim.shutdown()
        return r
    } catch {
        try? await sim.shutdown()
        throw error
    }
}

/// Runs a Reflector in the background while `body` runs; cancels it afterwards.
func withReflector<Object: KubeResource, T>(
    _ sim: KubeAPISimulator,
    credentials: CredentialSource = .none,
    options: ReflectorOptions<Object>,
    _ body: (ObjectStore<Object>, KubeClient) async throws -> T
) async throws -> T {
    let client = try KubeClient(config: sim.clusterConfig(credentials: credentials), logger: quietLogger)
    let store = ObjectStore<Object>()
    let reflector = Reflector(client: client, store: store, options: options, logger: quietLogger)
    let task = Task { try await reflector.run() }
    do {
        let r = try await body(store, client)
        task.cancel()
        _ = await task.result
        try await client.shutdown()
        return r
    } catch {
        task.cancel()
        _ = await task.result
        try? await client.shutdown()
        throw error
    }
}

/// The simulator's objects that the reflector's filter admits, by key.
func expected<Object: KubeResource>(_ sim: KubeAPISimulator, _ options: ReflectorOptions<Object>) -> [ObjectKey: Object] {
    Dictionary(uniqueKeysWithValues: sim.objects(Object.self).filter(options.matches).map { ($0.key, $0) })
}

/// Waits until the store holds exactly the simulator's (filtered) objects — full-set equality.
func expectConverges<Object: KubeResource>(_ store: ObjectStore<Object>, _ sim: KubeAPISimulator, _ options: ReflectorOptions<Object>, _ what: String, timeout: Duration = .seconds(10)) async throws {
    do {
        try await eventually(what, timeout: timeout) { store.objects == expected(sim, options) }
    } catch {
        let have = Set(store.objects.keys)
        let want = Set(expected(sim, options).keys)
        Issue.record("\(what): store has \(have.count), simulator \(want.count); missing \(want.subtracting(have).sorted().prefix(5)), extra \(have.subtracting(want).sorted().prefix(5))")
        throw error
    }
}

func service(_ ns: String, _ name: String, ip: String = "10.0.0.1", port: Int32 = 80, labels: [String: String]? = nil) -> Service {
    Service(
        metadata: ObjectMeta(name: name, namespace: ns, labels: labels),
        spec: ServiceSpec(type: "ClusterIP", clusterIP: ip, clusterIPs: ip == "None" ? nil : [ip], ports: [ServicePort(name: "http", port: port, targetPort: .int(8080))])
    )
}

func slice(_ ns: String, _ name: String, service: String, ips: [String], labels: [String: String] = [:]) -> EndpointSlice {
    EndpointSlice(
        metadata: ObjectMeta(name: name, namespace: ns, labels: labels.merging(["kubernetes.io/service-name": service]) { a, _ in a }),
        addressType: "IPv4",
        endpoints: ips.map { Endpoint(addresses: [$0], conditions: EndpointConditions(ready: true), nodeName: "node-1", zone: "zone-a") },
        ports: [EndpointPort(name: "http", protocol: .tcp, port: 8080)]
    )
}
