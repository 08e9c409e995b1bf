/// A page of a list response (`ServiceList`, `EndpointSliceList`, ...).
public struct ObjectList<Object: KubeResource>: Codable, Sendable {
    public var kind: String?
    public var apiVersion: String?
    public var metadata: ListMeta
    public var items: [Object]

    public init(metadata: ListMeta, items: [Object]) {
        self.kind = Object.resource.listKind
        self.apiVersion = Object.resource.apiVersion
        self.metadata = metadata
        self.items = items
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decodeIfPresent(String.self, forKey: .kind)
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion)
        metadata = try c.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        items = try c.decodeIfPresent([Object].self, forKey: .items) ?? []
    }
}

/// One event of a watch stream (meta/v1 WatchEvent).
public enum WatchEvent<Object: KubeResource>: Sendable, Hashable {
    case added(Object)
    case modified(Object)
    case deleted(Object)
    /// Only `metadata.resourceVersion` is meaningful in a bookmark.
    case bookmark(resourceVersion: String)
    /// The server ends the watch with a Status, e.g. 410 Expired.
    case error(Status)

    /// The resourceVersion this event moves the watch to, if any.
    public var resourceVersion: String? {
        switch self {
        case .added(let o), .modified(let o), .deleted(let o): o.metadata.resourceVersion
        case .bookmark(let rv): rv
        case .error: nil
        }
    }
}

extension WatchEvent: Codable {
    private enum CodingKeys: String, CodingKey { case type, object }
    private struct BookmarkObject: Codable {
        struct Meta: Codable { var resourceVersion: String? }
        var metadata: Meta
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "ADDED": self = .added(try c.decode(Object.self, forKey: .object))
        case "MODIFIED": self = .modified(try c.decode(Object.self, forKey: .object))
        case "DELETED": self = .deleted(try c.decode(Object.self, forKey: .object))
        case "BOOKMARK":
            let b = try c.decode(BookmarkObject.self, forKey: .object)
            self = .bookmark(resourceVersion: b.metadata.resourceVersion ?? "")
        case "ERROR": self = .error(try c.decode(Status.self, forKey: .object))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown watch event type \(type)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .added(let o): try c.encode("ADDED", forKey: .type); try c.encode(o, forKey: .object)
        case .modified(let o): try c.encode("MODIFIED", forKey: .type); try c.encode(o, forKey: .object)
        case .deleted(let o): try c.encode("DELETED", forKey: .type); try c.encode(o, forKey: .object)
        case .bookmark(let rv):
            try c.encode("BOOKMARK", forKey: .type)
            try c.encode(BookmarkObject(metadata: .init(resourceVersion: rv)), forKey: .object)
        case .error(let s): try c.encode("ERROR", forKey: .type); try c.encode(s, forKey: .object)
        }
    }
}
