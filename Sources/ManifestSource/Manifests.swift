import KubeModels

/// Where in the input an object came from.
public struct ManifestLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var file: String
    /// 1-based index of the YAML document in the file (JSON files hold one).
    public var document: Int
    /// 0-based index in the `items` of a List, when the object came from one.
    public var item: Int?

    public init(file: String, document: Int, item: Int? = nil) {
        self.file = file
        self.document = document
        self.item = item
    }

    public var description: String {
        "\(file), document \(document)" + (item.map { ", items[\($0)]" } ?? "")
    }

    public static func < (a: ManifestLocation, b: ManifestLocation) -> Bool {
        (a.file, a.document, a.item ?? -1) < (b.file, b.document, b.item ?? -1)
    }
}

/// A document or object that could not be read. Names the file, the document, the object
/// when known, and the field.
public struct ManifestError: Error, Hashable, Sendable, CustomStringConvertible {
    public var location: ManifestLocation
    /// `Kind namespace/name`, when the document got that far.
    public var object: String?
    /// Dotted path inside the object (or the document), e.g. `spec.ports[0].port`; empty for
    /// the whole document.
    public var field: String
    public var value: String?
    public var reason: String
    /// The object by kind, namespace and name, when the document names them.
    public var ref: ManifestObject?

    public init(location: ManifestLocation, object: String? = nil, field: String = "", value: String? = nil, reason: String,
                ref: ManifestObject? = nil) {
        self.location = location
        self.object = object
        self.field = field
        self.value = value
        self.reason = reason
        self.ref = ref
    }

    public var description: String {
        var s = "\(location)"
        if let object { s += " (\(object))" }
        if !field.isEmpty { s += ": field \(field)" }
        if let value { s += " = \(Excerpt.quoted(value))" }
        return s + ": \(reason)"
    }
}

/// Every error of a load: nothing is used when any document is bad.
public struct ManifestErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ManifestError]
    public init(errors: [ManifestError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Something skipped on purpose (an unknown kind, a replaced duplicate).
public struct ManifestNote: Hashable, Sendable, CustomStringConvertible {
    public var location: ManifestLocation
    public var message: String
    public var description: String { "\(location): \(message)" }
}

/// An object of the manifests by kind, namespace and name.
public struct ManifestObject: Hashable, Sendable {
    public var kind: String
    public var key: ObjectKey

    public init(kind: String, key: ObjectKey) {
        self.kind = kind
        self.key = key
    }
}

/// The objects read from manifest files.
public struct Manifests: Sendable {
    public var services: [Service] = []
    public var endpointSlices: [EndpointSlice] = []
    public var nodes: [Node] = []
    public var notes: [ManifestNote] = []
    /// Objects (or documents) that could not be read, each with why; skipped, the rest kept.
    public var skipped: [ManifestError] = []
    /// Where each object came from.
    public var locations: [ManifestObject: ManifestLocation] = [:]

    public init(services: [Service] = [], endpointSlices: [EndpointSlice] = [], nodes: [Node] = [], notes: [ManifestNote] = [],
                skipped: [ManifestError] = [], locations: [ManifestObject: ManifestLocation] = [:]) {
        self.services = services
        self.endpointSlices = endpointSlices
        self.nodes = nodes
        self.notes = notes
        self.skipped = skipped
        self.locations = locations
    }

    /// These manifests, with the objects they had to skip taken from `previous` (their last
    /// good version) where it has them: what a follower of changing files keeps serving.
    public func keepingSkipped(from previous: Manifests) -> Manifests {
        var out = self
        for ref in Set(skipped.compactMap(\.ref)) {
            switch ref.kind {
            case "Service":
                if !out.services.contains(where: { $0.key == ref.key }), let old = previous.services.first(where: { $0.key == ref.key }) {
                    out.services.append(old)
                }
            case "EndpointSlice":
                if !out.endpointSlices.contains(where: { $0.key == ref.key }),
                   let old = previous.endpointSlices.first(where: { $0.key == ref.key }) {
                    out.endpointSlices.append(old)
                }
            case "Node":
                if !out.nodes.contains(where: { $0.key == ref.key }), let old = previous.nodes.first(where: { $0.key == ref.key }) {
                    out.nodes.append(old)
                }
            default:
                break
            }
            if let at = previous.locations[ref] { out.locations[ref] = at }
        }
        return out
    }

    /// Where the object `kind` `namespace/name` came from.
    public func location(of kind: String, _ object: String) -> ManifestLocation? {
        let parts = object.split(separator: "/", maxSplits: 1).map(String.init)
        let key = parts.count == 2 ? ObjectKey(namespace: parts[0], name: parts[1]) : ObjectKey(namespace: "", name: object)
        return locations[ManifestObject(kind: kind, key: key)]
    }
}
