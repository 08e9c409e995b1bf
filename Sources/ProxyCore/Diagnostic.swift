import KubeModels

/// A problem with one field of one object that ProxyCore skipped or replaced instead of
/// failing: the caller turns it into a log line or a Kubernetes Event.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    /// "Service" or "EndpointSlice".
    public var kind: String
    /// `namespace/name` of the object.
    public var object: String
    /// Dotted path inside the object, e.g. `spec.clusterIPs[1]` or
    /// `metadata.annotations[sluice.dev/weight]`.
    public var field: String
    /// The offending value as written.
    public var value: String
    /// What is wrong and what ProxyCore did instead.
    public var reason: String

    public init(kind: String, object: String, field: String, value: String, reason: String) {
        self.kind = kind
        self.object = object
        self.field = field
        self.value = value
        self.reason = reason
    }

    public var description: String { "\(kind) \(Excerpt.line(object, limit: 100)): \(field) = \(Excerpt.quoted(value)): \(reason)" }
}

/// Collects diagnostics about one object, so call sites name only the field.
struct DiagnosticSink {
    let kind: String
    /// The object's name is written out only when there is something to report.
    let key: ObjectKey
    private(set) var diagnostics: [Diagnostic] = []

    init(kind: String, object: ObjectKey) {
        self.kind = kind
        self.key = object
    }

    var object: String { key.description }

    mutating func report(_ field: String, _ value: String, _ reason: String) {
        diagnostics.append(Diagnostic(kind: kind, object: object, field: field, value: value, reason: reason))
    }
}
