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

    public init(location: ManifestLocation, object: String? = nil, field: String = "", value: String? = nil, reason: String) {
        self.location = location
        self.object = object
        self.field = field
        self.value = value
        self.reason = reason
    }

    public var description: String {
        var s = "\(location)"
        if let object { s += " (\(object))" }
        if !field.isEmpty { s += ": field \(field)" }
        if let value { s += " = \(value)" }
        return s + ": \(reason)"
    }
}

/// Every error of a load: nothing is used when any document is bad.
public struct ManifestErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ManifestError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Something skipped on purpose (an unknown kind, a replaced duplicate).
public struct ManifestNote: Hashable, Sendable, CustomStringConvertible {
    public var location: ManifestLocation
    public var message: String
    public var description: String { "\(location): \(message)" }
}

/// The objects read from manifest files.
public struct Manifests: Sendable {
    public var services: [Service] = []
    public var endpointSlices: [EndpointSlice] = []
    public var nodes: [Node] = []
    public var notes: [ManifestNote] = []

    public init(services: [Service] = [], endpointSlices: [EndpointSlice] = [], nodes: [Node] = [], notes: [ManifestNote] = []) {
        self.services = services
        self.endpointSlices = endpointSlices
        self.nodes = nodes
        self.notes = notes
    }
}
