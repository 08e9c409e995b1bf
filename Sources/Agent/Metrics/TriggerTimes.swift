import Foundation
import KubeModels
import NetworkTypes

/// The EndpointSlice controller's `endpoints.kubernetes.io/last-change-trigger-time`
/// annotations of the changes waiting for a sync, for `kubeproxy_network_programming_duration_seconds`
/// (the SIG Scalability network programming latency SLI). kube-proxy's rules: a time from
/// before the agent started is ignored (the initial list would report the age of the
/// cluster), and a deleted slice drops its Service's times (its annotation dates from its
/// last update, not from the deletion).
///
/// The sync loop records each EndpointSlice event, and after a successful sync passes
/// `take()` to `ProxyMetrics.networkProgrammed`. Unlike kube-proxy, a failed sync keeps the
/// times, so the sync that finally programs the change reports its whole latency.
/// Memory: at most one time per slice update between two successful syncs.
public struct TriggerTimes: Sendable {
    public static let annotation = "endpoints.kubernetes.io/last-change-trigger-time"

    private struct ServiceKey: Hashable, Sendable {
        var namespace: String
        var name: String
    }

    private let start: Date
    private var pending: [ServiceKey: [(IPFamily, Date)]] = [:]

    /// `start`: when the agent started watching.
    public init(start: Date) { self.start = start }

    public var isEmpty: Bool { pending.isEmpty }

    public mutating func record(_ event: StoreEvent<EndpointSlice>) {
        switch event {
        case .added(let slice), .updated(_, let slice): updated(slice)
        case .deleted(let slice): deleted(slice)
        case .synced: break
        }
    }

    public mutating func updated(_ slice: EndpointSlice) {
        guard let key = Self.serviceKey(slice), let family = IPFamily(rawValue: slice.addressType),
              let text = slice.metadata.annotations?[Self.annotation], let time = RFC3339.parse(text), time > start
        else { return }
        pending[key, default: []].append((family, time))
    }

    public mutating func deleted(_ slice: EndpointSlice) {
        guard let key = Self.serviceKey(slice) else { return }
        pending[key] = nil
    }

    /// The times of every change recorded so far, by the IP family of the slice; forgets them.
    public mutating func take() -> [IPFamily: [Date]] {
        var out: [IPFamily: [Date]] = [:]
        for times in pending.values {
            for (family, time) in times { out[family, default: []].append(time) }
        }
        pending = [:]
        return out
    }

    private static func serviceKey(_ slice: EndpointSlice) -> ServiceKey? {
        guard let name = slice.metadata.label(ProxyLabel.serviceName) else { return nil }
        return ServiceKey(namespace: slice.metadata.namespace ?? "", name: name)
    }
}
