import Foundation
import KubeAPI
import KubeModels
import NIOCore

/// Server-side printing (meta.k8s.io/v1 Table), which kubectl asks for with
/// `Accept: application/json;as=Table;...`: the columns `kubectl get` shows.
enum TablePrinter {
    struct Column: Encodable {
        var name: String
        var type: String
        var format: String
        var description: String
        var priority: Int
    }

    struct Row: Encodable {
        var cells: [String]
        var object: PartialObject
    }

    struct PartialObject: Encodable {
        var kind = "PartialObjectMetadata"
        var apiVersion = "meta.k8s.io/v1"
        var metadata: ObjectMeta
    }

    struct Table: Encodable {
        var kind = "Table"
        var apiVersion = "meta.k8s.io/v1"
        var metadata: ListMeta
        var columnDefinitions: [Column]
        var rows: [Row]
    }

    static func wantsTable(_ accept: String?) -> Bool {
        accept?.contains("as=Table") ?? false
    }

    static func table(_ d: ResourceDescriptor, items: ArraySlice<StoredObject>, rv: Int, continueToken: String?, remaining: Int?) -> ByteBuffer {
        let columns: [Column]
        switch d.plural {
        case "services":
            columns = [col("Name", "name"), col("Type"), col("Cluster-IP"), col("External-IP"), col("Port(s)"), col("Age"), col("Selector", priority: 1)]
        case "endpointslices":
            columns = [col("Name", "name"), col("AddressType"), col("Ports"), col("Endpoints"), col("Age")]
        default:
            columns = [col("Name", "name"), col("Status"), col("Age")]
        }
        let rows = items.map { Row(cells: cells($0.object), object: PartialObject(metadata: $0.object.metadata)) }
        let table = Table(metadata: ListMeta(resourceVersion: String(rv), continue: continueToken, remainingItemCount: remaining.map(Int64.init)), columnDefinitions: columns, rows: Array(rows))
        return ByteBuffer(bytes: Wire.encode(table))
    }

    private static func col(_ name: String, _ format: String = "", priority: Int = 0) -> Column {
        Column(name: name, type: "string", format: format, description: name, priority: priority)
    }

    private static func cells(_ object: any KubeResource) -> [String] {
        let age = self.age(object.metadata.creationTimestamp)
        switch object {
        case let s as Service:
            let external = (s.spec.externalIPs ?? []) + (s.status?.loadBalancer?.ingress ?? []).compactMap { $0.ip ?? $0.hostname }
            let ports = s.spec.ports.map { p in
                "\(p.port)" + (p.nodePort.map { ":\($0)" } ?? "") + "/\(p.protocol.rawValue)"
            }
            let selector = (s.spec.selector ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            return [s.metadata.name, s.spec.type ?? "ClusterIP", s.spec.clusterIP ?? "", external.isEmpty ? "<none>" : external.joined(separator: ","),
                    ports.isEmpty ? "<none>" : ports.joined(separator: ","), age, selector.isEmpty ? "<none>" : selector.joined(separator: ",")]
        case let e as EndpointSlice:
            let ports = e.ports.compactMap { $0.port.map(String.init) }
            let addresses = e.endpoints.flatMap(\.addresses)
            var shown = addresses.prefix(3).joined(separator: ",")
            if addresses.count > 3 { shown += " + \(addresses.count - 3) more..." }
            return [e.metadata.name, e.addressType, ports.isEmpty ? "<unset>" : ports.joined(separator: ","), addresses.isEmpty ? "<unset>" : shown, age]
        default:
            return [object.metadata.name, "Ready", age]
        }
    }

    /// kubectl's short ages: 42s, 5m, 3h, 2d.
    static func age(_ timestamp: String?) -> String {
        guard let t = timestamp, let date = try? Date(t, strategy: .iso8601) else { return "<unknown>" }
        let s = max(0, Int(Date().timeIntervalSince(date)))
        if s < 120 { return "\(s)s" }
        if s < 3 * 3600 { return "\(s / 60)m" }
        if s < 48 * 3600 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }
}
