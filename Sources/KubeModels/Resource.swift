/// What the client needs to know about a resource type to list and watch it.
public struct ResourceDescriptor: Sendable, Hashable {
    /// "" for the core group.
    public var group: String
    public var version: String
    /// Plural resource name used in paths and in RBAC ("services").
    public var plural: String
    public var kind: String
    public var namespaced: Bool
    /// Field selector paths the API server accepts for this resource.
    public var selectableFields: [String]

    public init(group: String, version: String, plural: String, kind: String, namespaced: Bool, selectableFields: [String]) {
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.selectableFields = selectableFields
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    public var listKind: String { kind + "List" }

    /// "/api/v1" or "/apis/<group>/<version>".
    public var groupVersionPath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    /// The collection path, namespaced when `namespace` is given.
    public func path(namespace: String? = nil, name: String? = nil) -> String {
        var p = groupVersionPath
        if let namespace, namespaced { p += "/namespaces/\(namespace)" }
        p += "/\(plural)"
        if let name { p += "/\(name)" }
        return p
    }
}

/// A Kubernetes object type the client can list and watch.
public protocol KubeResource: Codable, Sendable, Hashable {
    static var resource: ResourceDescriptor { get }
    var metadata: ObjectMeta { get set }
    /// The value of a field-selector path, or nil when the path is not selectable.
    func fieldValue(_ path: String) -> String?
}

extension KubeResource {
    public var key: ObjectKey { ObjectKey(metadata) }

    func metadataFieldValue(_ path: String) -> String? {
        switch path {
        case "metadata.name": metadata.name
        case "metadata.namespace": metadata.namespace ?? ""
        default: nil
        }
    }
}

extension Service: KubeResource {
    public static let resource = ResourceDescriptor(
        group: "", version: "v1", plural: "services", kind: "Service", namespaced: true,
        selectableFields: ["metadata.name", "metadata.namespace", "spec.clusterIP", "spec.type"]
    )

    public func fieldValue(_ path: String) -> String? {
        switch path {
        case "spec.clusterIP": spec.clusterIP ?? ""
        case "spec.type": spec.type ?? "ClusterIP"
        default: metadataFieldValue(path)
        }
    }
}

extension EndpointSlice: KubeResource {
    public static let resource = ResourceDescriptor(
        group: "discovery.k8s.io", version: "v1", plural: "endpointslices", kind: "EndpointSlice", namespaced: true,
        selectableFields: ["metadata.name", "metadata.namespace", "addressType"]
    )

    public func fieldValue(_ path: String) -> String? {
        path == "addressType" ? addressType : metadataFieldValue(path)
    }
}

extension Node: KubeResource {
    public static let resource = ResourceDescriptor(
        group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false,
        selectableFields: ["metadata.name", "spec.unschedulable"]
    )

    public func fieldValue(_ path: String) -> String? {
        path == "spec.unschedulable" ? String(spec.unschedulable ?? false) : metadataFieldValue(path)
    }
}
