import KubeModels
import Logging

/// Timings of a Reflector; the defaults are the production values, tests shrink them.
public struct ReflectorTiming: Sendable, Hashable {
    /// Server-side watch timeout, drawn at random in this range for each watch (client-go: 5–10 min).
    public var watchTimeout: ClosedRange<Int>
    /// Extra time the client waits past the server timeout before giving up on a silent watch.
    public var watchGrace: Duration
    public var backoff: Backoff
    /// Delay before retrying after 403 Forbidden (the permission may be granted later).
    public var forbiddenRetry: Duration
    /// Cap on a server's Retry-After, so a wrong header cannot stall the agent.
    public var maxRetryAfter: Duration

    public init(
        watchTimeout: ClosedRange<Int> = 300...600,
        watchGrace: Duration = .seconds(30),
        backoff: Backoff = Backoff(),
        forbiddenRetry: Duration = .seconds(60),
        maxRetryAfter: Duration = .seconds(120)
    ) {
        self.watchTimeout = watchTimeout
        self.watchGrace = watchGrace
        self.backoff = backoff
        self.forbiddenRetry = forbiddenRetry
        self.maxRetryAfter = maxRetryAfter
    }
}

/// What a Reflector lists and watches.
public struct ReflectorOptions<Object: KubeResource>: Sendable {
    public var namespace: String?
    public var labelSelector: LabelSelector?
    public var fieldSelector: FieldSelector?
    public var pageSize: Int
    public var timing: ReflectorTiming

    public init(namespace: String? = nil, labelSelector: LabelSelector? = nil, fieldSelector: FieldSelector? = nil, pageSize: Int = 500, timing: ReflectorTiming = ReflectorTiming()) {
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.pageSize = pageSize
        self.timing = timing
    }

    /// The same filter the server applies, re-applied locally on every object received.
    public func matches(_ object: Object) -> Bool {
        (labelSelector?.matches(object.metadata.labels) ?? true) && (fieldSelector?.matches(object) ?? true)
    }
}

extension ReflectorOptions where Object == Service {
    /// kube-proxy's Service filter: without `service-proxy-name` (or with ours when a
    /// proxy name is configured), and with a ClusterIP (headless Services have none to program).
    public static func services(proxyName: String? = nil, timing: ReflectorTiming = ReflectorTiming()) -> Self {
        let label: LabelSelector.Requirement = proxyName.map { .equals(ProxyLabel.serviceProxyName, $0) } ?? .doesNotExist(ProxyLabel.serviceProxyName)
        return Self(labelSelector: LabelSelector([label]), fieldSelector: FieldSelector([.notEquals("spec.clusterIP", "None")]), timing: timing)
    }
}

extension ReflectorOptions where Object == Node {
    /// One Node by name (the agent's own, for its labels such as the topology zone).
    public static func node(named name: String, timing: ReflectorTiming = ReflectorTiming()) -> Self {
        Self(fieldSelector: FieldSelector([.equals("metadata.name", name)]), timing: timing)
    }
}

extension ReflectorOptions where Object == EndpointSlice {
    /// kube-proxy's EndpointSlice filter: slices of headless Services are left out.
    public static func endpointSlices(timing: ReflectorTiming = ReflectorTiming()) -> Self {
        Self(labelSelector: LabelSelector([.doesNotExist(ProxyLabel.headless)]), timing: timing)
    }
}

/// Keeps an ObjectStore equal to the server's state of one resource: list (paged), then
/// watch from the list's resourceVersion, resume after the stream ends, relist on 410.
public struct Reflector<Object: KubeResource>: Sendable {
    public let client: KubeClient
    public let store: ObjectStore<Object>
    public let options: ReflectorOptions<Object>
    private let logger: Logger

    public init(client: KubeClient, store: ObjectStore<Object> = ObjectStore(), options: ReflectorOptions<Object> = ReflectorOptions(), logger: Logger) {
        self.client = client
        self.store = store
        self.options = options
        var logger = logger
        logger[metadataKey: "kube.resource"] = "\(Object.resource.plural)"
        self.logger = logger
    }

    private enum Next {
        case relist
        case watch(from: String)
    }

    /// Runs until the task is cancelled, then returns. Every failure is retried: this never
    /// gives up on the API server.
    public func run() async throws {
        var backoff = options.timing.backoff
        var next = Next.relist
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let started = clock.now
            do {
                switch next {
                case .relist:
                    let rv = try await listAll()
                    next = .watch(from: rv)
                    backoff.reset()
                case .watch(let rv):
                    next = try await watch(from: rv)
                    let lasted = clock.now - started
                    backoff.connectionEnded(healthyFor: lasted)
                    // A server that ends watches at once must not turn this into a busy loop.
                    if lasted < options.timing.backoff.initial { try await Task.sleep(for: backoff.next()) }
                }
            } catch is CancellationError {
                return
            } catch let error as KubeAPIError {
                backoff.connectionEnded(healthyFor: clock.now - started)
                if error.isExpired {
                    logger.info("resourceVersion expired; relisting", metadata: ["kube.error": "\(error)"])
                    next = .relist
                    continue
                }
                do {
                    try await pause(after: error, backoff: &backoff)
                } catch {
                    return
                }
            }
        }
    }

    private func pause(after error: KubeAPIError, backoff: inout Backoff) async throws {
        let delay: Duration
        switch error {
        case .status(let status, let retryAfter) where status.code == 429 || (status.code ?? 0) >= 500:
            delay = min(retryAfter ?? backoff.next(), options.timing.maxRetryAfter)
            logger.info("API server asked to retry later", metadata: ["kube.code": "\(status.code ?? 0)", "kube.retry-after": "\(delay)"])
        case .status(let status, _) where status.code == 401:
            await client.config.credentials.invalidate()
            delay = backoff.next()
            logger.warning("unauthorized (401): re-reading credentials", metadata: ["kube.message": "\(status.message ?? "")"])
        case .status(let status, _) where status.code == 403:
            delay = options.timing.forbiddenRetry
            logger.error("forbidden (403): grant this permission to Sluice's service account", metadata: [
                "kube.missing-permission": "\(status.message ?? "list and watch \(Object.resource.plural)")",
                "kube.retry-in": "\(delay)",
            ])
        case .decoding(let e):
            delay = backoff.next()
            logger.error("cannot decode API response", metadata: ["kube.error": "\(e)"])
        default:
            delay = backoff.next()
            logger.warning("API request failed; backing off", metadata: ["kube.error": "\(error)", "kube.delay": "\(delay)"])
        }
        try await Task.sleep(for: delay)
    }

    /// Lists every page and replaces the store's content.
    private func listAll() async throws -> String {
        let (items, rv) = try await client.listAll(Object.self, ListOptions(
            namespace: options.namespace,
            labelSelector: options.labelSelector,
            fieldSelector: options.fieldSelector,
            limit: options.pageSize
        ), where: options.matches, logger: logger)
        let count = items.count
        store.replace(with: items, resourceVersion: rv)
        logger.debug("listed", metadata: ["kube.count": "\(count)", "kube.resource-version": "\(rv)"])
        return rv
    }

    /// One watch; returns where to continue.
    private func watch(from resourceVersion: String) async throws -> Next {
        let timeout = Int.random(in: options.timing.watchTimeout)
        var lastRV = resourceVersion
        let grace = options.timing.watchGrace
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Task.sleep(for: .seconds(timeout) + grace)
                throw KubeAPIError.transport("watch silent past its \(timeout)s timeout")
            }
            group.addTask { [store, options] in
                try await client.watch(Object.self, WatchOptions(
                    namespace: options.namespace,
                    labelSelector: options.labelSelector,
                    fieldSelector: options.fieldSelector,
                    resourceVersion: resourceVersion,
                    timeoutSeconds: timeout
                )) { event in
                    switch event {
                    case .added(let o), .modified(let o):
                        // A server that ignored the selector, or an object that stopped
                        // matching, is a deletion from our point of view.
                        if options.matches(o) { store.upsert(o) } else { store.remove(o.key, resourceVersion: o.metadata.resourceVersion) }
                    case .deleted(let o):
                        store.remove(o.key, resourceVersion: o.metadata.resourceVersion)
                    case .bookmark(let rv):
                        store.advance(to: rv)
                    case .error(let status):
                        throw KubeAPIError.status(status, retryAfter: status.details?.retryAfterSeconds.map { .seconds($0) })
                    }
                }
            }
            defer { group.cancelAll() }
            _ = try await group.next()
        }
        if let rv = store.resourceVersion { lastRV = rv }
        return .watch(from: lastRV)
    }
}
