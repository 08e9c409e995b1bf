import Foundation
import KubeAPI
import KubeModels
import Logging
import ManifestSource
import ServiceLifecycle

/// Follows the Kubernetes API: a reflector each for Services (kube-proxy's filter: no
/// `service-proxy-name` label, or ours; not headless), EndpointSlices (not headless) and this
/// node's Node, each posting its changes to the sync loop's inbox. The reflectors retry
/// forever; while the API server is away nothing is posted and the kernel keeps its rules.
public struct APISource: ServiceLifecycle.Service {
    let client: KubeClient
    let nodeName: String
    let proxyName: String?
    let inbox: AgentInbox
    let timing: ReflectorTiming
    let logger: Logger

    public init(client: KubeClient, nodeName: String, proxyName: String?, inbox: AgentInbox,
                timing: ReflectorTiming = ReflectorTiming(), logger: Logger) {
        self.client = client
        self.nodeName = nodeName
        self.proxyName = proxyName
        self.inbox = inbox
        self.timing = timing
        self.logger = logger
    }

    /// The API requests this source makes: what the ClusterRole must grant, and no more.
    public static let permissions: [(resource: String, group: String, verbs: [String])] = [
        ("services", "", ["list", "watch"]),
        ("endpointslices", "discovery.k8s.io", ["list", "watch"]),
        ("nodes", "", ["list", "watch"]),
    ]

    public func run() async throws {
        let services = ObjectStore<KubeModels.Service>()
        let slices = ObjectStore<EndpointSlice>()
        let nodes = ObjectStore<Node>()
        let (client, inbox, logger, timing) = (self.client, self.inbox, self.logger, self.timing)
        let proxyName = self.proxyName, nodeName = self.nodeName
        try await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    try await Reflector(client: client, store: services, options: .services(proxyName: proxyName, timing: timing),
                                        logger: logger).run()
                }
                group.addTask {
                    try await Reflector(client: client, store: slices, options: .endpointSlices(timing: timing), logger: logger).run()
                }
                group.addTask {
                    try await Reflector(client: client, store: nodes, options: .node(named: nodeName, timing: timing), logger: logger).run()
                }
                group.addTask { for await batch in services.changes() { inbox.post(.services(batch)) } }
                group.addTask { for await batch in slices.changes() { inbox.post(.slices(batch)) } }
                group.addTask { for await batch in nodes.changes() { inbox.post(.nodes(batch)) } }
            }
        }
    }
}

/// Follows manifest files (`--manifests`): polls them every `interval` and, when any changed,
/// reads them all again. A good read posts what changed since the last good one; a bad read
/// is reported (file, object, field) and the last good state stays. The first good read is
/// the sources' first complete list.
public struct ManifestFollower: ServiceLifecycle.Service {
    let paths: [String]
    let interval: Duration
    let inbox: AgentInbox
    let logger: Logger
    /// Called with each bad read's errors (metrics).
    let onError: @Sendable (ManifestErrors) -> Void

    public init(paths: [String], interval: Duration = .milliseconds(200), inbox: AgentInbox, logger: Logger,
                onError: @escaping @Sendable (ManifestErrors) -> Void = { _ in }) {
        self.paths = paths
        self.interval = interval
        self.inbox = inbox
        self.logger = logger
        self.onError = onError
    }

    /// What a file looked like when last read: a write, a rename over it or a new file
    /// changes it.
    struct Stamp: Hashable {
        var path: String
        var inode: UInt64
        var size: Int64
        var modified: Int64
    }

    static func stamps(_ paths: [String]) -> [Stamp] {
        (ManifestLoader.files(paths) + paths).map { path in
            guard let a = try? FileManager.default.attributesOfItem(atPath: path) else {
                return Stamp(path: path, inode: 0, size: -1, modified: 0)
            }
            let modified = (a[.modificationDate] as? Date).map { Int64($0.timeIntervalSince1970 * 1e9) } ?? 0
            return Stamp(path: path, inode: (a[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0,
                         size: (a[.size] as? NSNumber)?.int64Value ?? 0, modified: modified)
        }
    }

    public func run() async throws {
        var seen: [Stamp]?
        var last: Manifests?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let now = Self.stamps(paths)
            if now != seen {
                seen = now
                do {
                    var manifests = try ManifestLoader.load(paths: paths)
                    for note in manifests.notes { logger.notice("\(note)") }
                    for e in manifests.skipped {
                        logger.warning("object skipped\(e.ref != nil && last != nil ? ", its last good version kept" : ""): \(e)")
                    }
                    if !manifests.skipped.isEmpty { onError(ManifestErrors(errors: manifests.skipped)) }
                    if let last { manifests = manifests.keepingSkipped(from: last) }
                    post(from: last, to: manifests)
                    last = manifests
                } catch {
                    for e in error.errors { logger.error("manifest not applied; keeping the last good state: \(e)") }
                    onError(error)
                }
            }
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
        }
    }

    /// Posts the difference between two reads, as a store would: added, updated, deleted; the
    /// first read ends with `synced` for every kind.
    private func post(from old: Manifests?, to new: Manifests) {
        inbox.post(.services(Self.events(old?.services ?? [], new.services, first: old == nil)))
        inbox.post(.slices(Self.events(old?.endpointSlices ?? [], new.endpointSlices, first: old == nil)))
        inbox.post(.nodes(Self.events(old?.nodes ?? [], new.nodes, first: old == nil)))
    }

    static func events<T: KubeResource>(_ old: [T], _ new: [T], first: Bool) -> [StoreEvent<T>] {
        var before = Dictionary(old.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
        var out: [StoreEvent<T>] = []
        for object in new {
            switch before.removeValue(forKey: object.key) {
            case nil: out.append(.added(object))
            case let previous? where previous != object: out.append(.updated(old: previous, new: object))
            default: break
            }
        }
        for object in before.values.sorted(by: { $0.key < $1.key }) { out.append(.deleted(object)) }
        if first { out.append(.synced) }
        return out
    }
}
