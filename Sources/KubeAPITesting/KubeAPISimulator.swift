import Foundation
import KubeAPI
import KubeModels
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// An in-process Kubernetes API server for tests and benchmarks. It serves, over HTTP/1.1
/// or HTTPS, the JSON the real server serves for Services, EndpointSlices and Nodes, with
/// the real resourceVersion, pagination, watch, bookmark, selector and auth semantics,
/// plus scriptable faults. Objects are created, updated and deleted with plain calls.
public final class KubeAPISimulator: Sendable {
    public static let resources: [ResourceDescriptor] = [Service.resource, EndpointSlice.resource, Node.resource]

    struct Watcher {
        var plural: String
        var namespace: String?
        var labels: LabelSelector?
        var fields: FieldSelector?
        var bookmarks: Bool
        /// Events at or below this version are not sent (a watch from a future version waits).
        var startResourceVersion: Int
        var sink: WatchSink
        /// Events kept back while watch delivery is held.
        var held: [ByteBuffer] = []
    }

    struct Snapshot {
        var resourceVersion: Int
        var items: [StoredObject]
    }

    struct Failure {
        var remaining: Int
        var status: Int
        var retryAfterSeconds: Int?
        var match: RequestMatch
    }

    struct State {
        var resourceVersion: Int
        /// Watches from a version below this answer 410 Expired.
        var compactedResourceVersion: Int
        var objects: [String: [ObjectKey: StoredObject]] = [:]
        var history: [HistoryEvent] = []
        var historyStart = 0
        var watchers: [Int: Watcher] = [:]
        var snapshots: [Int: Snapshot] = [:]
        var nextID = 1
        var tokens: [String: String]
        var permissions: [String: Set<Permission>]?
        var failures: [Failure] = []
        var watchDrops: [Int] = []
        var streamShape = WatchStreamShape()
        var holdWatchEvents = false
        var expireNextContinueToken = false
        var requests: [RecordedRequest] = []
        var expiredWatch: ExpiredWatchResponse

        var liveHistory: ArraySlice<HistoryEvent> { history[historyStart...] }
    }

    let state: Mutex<State>
    let options: SimulatorOptions
    let logger: Logger
    private let channel: any Channel
    private let certificates: SimulatorCertificates?
    let encoder: JSONEncoder
    let descriptors: [String: ResourceDescriptor]

    public let port: Int
    /// "https://127.0.0.1:port" (or http).
    public var baseURL: String { "\(options.tls ? "https" : "http")://127.0.0.1:\(port)" }
    /// The CA that signed the server certificate, PEM (nil without TLS).
    public var certificateAuthorityPEM: String? { certificates?.caPEM }

    private init(options: SimulatorOptions, logger: Logger, channel: any Channel, certificates: SimulatorCertificates?, state: consuming Mutex<State>) {
        self.options = options
        self.logger = logger
        self.channel = channel
        self.certificates = certificates
        self.state = state
        self.port = channel.localAddress?.port ?? 0
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        self.encoder = encoder
        self.descriptors = Dictionary(uniqueKeysWithValues: Self.resources.map { ($0.plural, $0) })
    }

    /// Starts listening on 127.0.0.1, on a free port.
    public static func start(_ options: SimulatorOptions = SimulatorOptions(), logger: Logger = Logger(label: "kubeapi-simulator")) async throws -> KubeAPISimulator {
        let certificates = options.tls ? try SimulatorCertificates(hostnames: options.certificateHostnames, loopbackAddresses: options.certificateNamesLoopback) : nil
        let sslContext: NIOSSLContext? = try certificates.map { c in
            var config = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(c.serverCertificatePEM.utf8)).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(c.serverKeyPEM.utf8), format: .pem))
            )
            // Client certificates signed by the simulator's CA authenticate as their CN.
            config.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(c.caPEM.utf8)))
            config.certificateVerification = .optionalVerification
            return try NIOSSLContext(configuration: config)
        }
        let state = Mutex(State(
            resourceVersion: options.initialResourceVersion,
            compactedResourceVersion: options.initialResourceVersion,
            tokens: options.tokens,
            permissions: options.permissions,
            expiredWatch: options.expiredWatch
        ))
        let box = SimulatorBox()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(APIHandler(box: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let sim = KubeAPISimulator(options: options, logger: logger, channel: channel, certificates: certificates, state: state)
        box.set(sim)
        return sim
    }

    public func shutdown() async throws {
        let sinks = state.withLock { s in
            let sinks = s.watchers.values.map(\.sink)
            s.watchers.removeAll()
            return sinks
        }
        for sink in sinks { sink.finish() }
        try await channel.close()
    }

    /// A ClusterConfig for the client that trusts this simulator's CA.
    public func clusterConfig(credentials: CredentialSource = .none) -> ClusterConfig {
        ClusterConfig(
            server: baseURL,
            tls: TLSSettings(certificateAuthorityPEM: certificateAuthorityPEM.map { Array($0.utf8) }),
            credentials: Credentials(credentials)
        )
    }

    /// A kubeconfig for this simulator: its CA inline, a bearer token, one context.
    public func kubeconfig(token: String) -> String {
        let ca = Data((certificateAuthorityPEM ?? "").utf8).base64EncodedString()
        return """
            apiVersion: v1
            kind: Config
            clusters:
            - name: sim
              cluster:
                server: \(baseURL)
                certificate-authority-data: \(ca)
            users:
            - name: tester
              user:
                token: \(token)
            contexts:
            - name: sim
              context:
                cluster: sim
                user: tester
            current-context: sim

            """
    }

    // MARK: objects

    /// The current resourceVersion (of the last write).
    public var resourceVersion: Int { state.withLock { $0.resourceVersion } }

    /// Creates an object; fails with 409 if it exists. Returns it as stored (uid,
    /// resourceVersion, creationTimestamp set).
    @discardableResult
    public func create<Object: KubeResource>(_ object: Object) throws -> Object {
        try write(object, mustExist: false)
    }

    /// Replaces an existing object; fails with 404 if absent.
    @discardableResult
    public func update<Object: KubeResource>(_ object: Object) throws -> Object {
        try write(object, mustExist: true)
    }

    /// Creates or replaces.
    @discardableResult
    public func apply<Object: KubeResource>(_ object: Object) throws -> Object {
        try write(object, mustExist: nil)
    }

    /// Creates many objects; one resourceVersion each, as separate writes.
    public func createMany<Object: KubeResource>(_ objects: [Object]) throws {
        for o in objects { _ = try write(o, mustExist: false) }
    }

    private func write<Object: KubeResource>(_ object: Object, mustExist: Bool?) throws -> Object {
        let d = Object.resource
        return try state.withLock { s in
            let key = object.key
            let previous = s.objects[d.plural]?[key]
            if mustExist == true, previous == nil {
                throw SimulatorError(code: 404, message: "\(d.plural) \"\(key)\" not found")
            }
            if mustExist == false, previous != nil {
                throw SimulatorError(code: 409, message: "\(d.plural) \"\(key)\" already exists")
            }
            if d.namespaced, (object.metadata.namespace ?? "").isEmpty {
                throw SimulatorError(code: 400, message: "\(d.plural) \"\(key)\": namespace is required")
            }
            s.resourceVersion += 1
            var o = object
            o.metadata.resourceVersion = String(s.resourceVersion)
            if let previous, let prev = previous.object as? Object {
                o.metadata.uid = prev.metadata.uid
                o.metadata.creationTimestamp = prev.metadata.creationTimestamp
            } else {
                o.metadata.uid = UUID().uuidString.lowercased()
                o.metadata.creationTimestamp = Date().formatted(.iso8601)
            }
            let stored = try StoredObject(o, resourceVersion: s.resourceVersion, encoder: encoder)
            s.objects[d.plural, default: [:]][key] = stored
            record(&s, HistoryEvent(resourceVersion: s.resourceVersion, plural: d.plural, type: previous == nil ? .added : .modified, object: stored, previous: previous))
            return o
        }
    }

    /// Deletes an object; fails with 404 if absent.
    public func delete<Object: KubeResource>(_ type: Object.Type, namespace: String? = nil, name: String) throws {
        let d = Object.resource
        try state.withLock { s in
            let key = ObjectKey(namespace: d.namespaced ? namespace ?? "" : "", name: name)
            guard let previous = s.objects[d.plural]?.removeValue(forKey: key), var o = previous.object as? Object else {
                throw SimulatorError(code: 404, message: "\(d.plural) \"\(key)\" not found")
            }
            s.resourceVersion += 1
            // A DELETED event carries the last state, at the deletion's resourceVersion.
            o.metadata.resourceVersion = String(s.resourceVersion)
            let stored = try StoredObject(o, resourceVersion: s.resourceVersion, encoder: encoder)
            record(&s, HistoryEvent(resourceVersion: s.resourceVersion, plural: d.plural, type: .deleted, object: stored, previous: previous))
        }
    }

    /// Every current object of a type, in key order, as stored.
    public func objects<Object: KubeResource>(_ type: Object.Type) -> [Object] {
        state.withLock { s in
            (s.objects[Object.resource.plural] ?? [:]).values.sorted { $0.key < $1.key }.compactMap { $0.object as? Object }
        }
    }

    public func object<Object: KubeResource>(_ type: Object.Type, namespace: String? = nil, name: String) -> Object? {
        state.withLock { s in
            s.objects[Object.resource.plural]?[ObjectKey(namespace: namespace ?? "", name: name)]?.object as? Object
        }
    }

    private func record(_ s: inout State, _ event: HistoryEvent) {
        s.history.append(event)
        if s.history.count - s.historyStart > options.historyLimit {
            s.compactedResourceVersion = s.history[s.historyStart].resourceVersion
            s.historyStart += 1
            if s.historyStart > 4096, s.historyStart * 2 > s.history.count {
                s.history.removeFirst(s.historyStart)
                s.historyStart = 0
            }
        }
        guard let d = descriptors[event.plural] else { return }
        for id in s.watchers.keys {
            guard let w = s.watchers[id], w.plural == event.plural, event.resourceVersion > w.startResourceVersion, let bytes = Self.render(event, for: w, d) else { continue }
            if s.holdWatchEvents {
                s.watchers[id]?.held.append(bytes)
            } else {
                w.sink.send([bytes])
            }
        }
    }

    /// The event a watcher sees for a history event, with selector transitions: an object
    /// that starts matching is ADDED, one that stops matching is DELETED.
    static func render(_ e: HistoryEvent, for w: Watcher, _ d: ResourceDescriptor) -> ByteBuffer? {
        let now = e.object.matches(namespace: w.namespace, labels: w.labels, fields: w.fields)
        let before = e.previous?.matches(namespace: w.namespace, labels: w.labels, fields: w.fields) ?? false
        switch e.type {
        case .added: return now ? Wire.event("ADDED", e.object, d) : nil
        case .deleted: return before ? Wire.event("DELETED", e.object, d) : nil
        case .modified:
            switch (before, now) {
            case (true, true): return Wire.event("MODIFIED", e.object, d)
            case (false, true): return Wire.event("ADDED", e.object, d)
            case (true, false): return Wire.event("DELETED", e.object, d)
            case (false, false): return nil
            }
        }
    }

    // MARK: auth

    /// A client certificate and key (PEM) that authenticate as `user`.
    public func issueClientCertificate(user: String) throws -> (certificatePEM: String, keyPEM: String) {
        guard let certificates else { throw SimulatorError(code: 400, message: "client certificates need TLS") }
        return try certificates.issueClientCertificate(user: user)
    }

    /// Replaces the accepted bearer tokens (token → user): rotation and revocation.
    public func setTokens(_ tokens: [String: String]) {
        state.withLock { $0.tokens = tokens }
    }

    /// Replaces the authoriser's allow-list (nil: allow everything).
    public func setPermissions(_ permissions: [String: Set<Permission>]?) {
        state.withLock { $0.permissions = permissions }
    }

    // MARK: faults

    /// The next `count` matching requests fail with `status` (429 or 5xx) and Retry-After;
    /// status 0 closes the connection without an answer (a broken network).
    public func failNextRequests(_ count: Int, status: Int = 429, retryAfterSeconds: Int? = 1, matching: RequestMatch = .any) {
        state.withLock { $0.failures.append(Failure(remaining: count, status: status, retryAfterSeconds: retryAfterSeconds, match: matching)) }
    }

    /// Forgets every scripted failure not yet served.
    public func clearFailures() {
        state.withLock { $0.failures.removeAll() }
    }

    /// Ends every open watch (the connection closes, as when the server goes away); clients
    /// may resume from their last resourceVersion.
    public func endOpenWatches() {
        let sinks = state.withLock { s in
            defer { s.watchers.removeAll() }
            return s.watchers.values.map(\.sink)
        }
        for sink in sinks { sink.end() }
    }

    /// The next `count` watches are cut (connection dropped, no clean end) after `events` events.
    public func dropNextWatches(afterEvents events: Int, count: Int = 1) {
        state.withLock { $0.watchDrops.append(contentsOf: Array(repeating: events, count: count)) }
    }

    /// How watch streams started from now on are chunked and paced.
    public func setWatchStreamShape(_ shape: WatchStreamShape) {
        state.withLock { $0.streamShape = shape }
    }

    public func setExpiredWatchResponse(_ response: ExpiredWatchResponse) {
        state.withLock { $0.expiredWatch = response }
    }

    /// Keeps events back from open watches (a watch that fell behind), until released or expired.
    public func holdWatchEvents() {
        state.withLock { $0.holdWatchEvents = true }
    }

    public func releaseWatchEvents() {
        state.withLock { s in
            s.holdWatchEvents = false
            for (id, w) in s.watchers where !w.held.isEmpty {
                w.sink.send(w.held)
                s.watchers[id]?.held = []
            }
        }
    }

    /// Forgets the event history (as etcd compaction does): watches from any version
    /// before now get 410 Expired, and so do outstanding continue tokens.
    public func compact() {
        state.withLock { s in
            s.compactedResourceVersion = s.resourceVersion
            s.history.removeAll()
            s.historyStart = 0
            s.snapshots.removeAll()
        }
    }

    /// Ends every open watch with an ERROR event carrying Status 410 Expired, dropping
    /// events held back, and compacts the history.
    public func expireWatches() {
        let sinks = state.withLock { s in
            let sinks = s.watchers.values.map(\.sink)
            s.watchers.removeAll()
            s.holdWatchEvents = false
            s.compactedResourceVersion = s.resourceVersion
            s.history.removeAll()
            s.historyStart = 0
            return (sinks, s.resourceVersion)
        }
        let status = Self.expiredStatus(requested: nil, oldest: sinks.1)
        for sink in sinks.0 {
            sink.send([Wire.errorEvent(status)])
            sink.end()
        }
    }

    /// Invalidates every continue token handed out so far.
    public func expireContinueTokens() {
        state.withLock { $0.snapshots.removeAll() }
    }

    /// The next request that presents a continue token finds it expired (410), as if
    /// etcd had compacted between two pages.
    public func expireNextContinueToken() {
        state.withLock { $0.expireNextContinueToken = true }
    }

    /// Sends a BOOKMARK now on every watch that allows them.
    public func sendBookmarks() {
        state.withLock { s in
            for w in s.watchers.values where w.bookmarks {
                if let d = descriptors[w.plural] { w.sink.send([Wire.bookmark(s.resourceVersion, d)]) }
            }
        }
    }

    /// Requests served so far, in order.
    public var requests: [RecordedRequest] { state.withLock { $0.requests } }
    public var openWatchCount: Int { state.withLock { $0.watchers.count } }

    static func expiredStatus(requested: Int?, oldest: Int) -> Status {
        Status(
            message: requested.map { "resourceVersion \($0) is too old: the oldest available is \(oldest)" } ?? "watch expired: history compacted at resourceVersion \(oldest)",
            reason: "Expired",
            code: 410
        )
    }
}

/// Late binding of the handlers to the simulator they serve.
final class SimulatorBox: Sendable {
    private let value = Mutex<KubeAPISimulator?>(nil)
    func set(_ sim: KubeAPISimulator) { value.withLock { $0 = sim } }
    var simulator: KubeAPISimulator? { value.withLock { $0 } }
}

/// Where a watch's events go: the connection's handler, on its event loop.
struct WatchSink: Sendable {
    let send: @Sendable ([ByteBuffer]) -> Void
    /// Ends the response cleanly (terminal chunk).
    let end: @Sendable () -> Void
    /// Closes the connection.
    let finish: @Sendable () -> Void
}
