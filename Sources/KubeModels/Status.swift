/// A meta/v1 Status: the body of every API error and of an ERROR watch event.
public struct Status: Codable, Sendable, Hashable, Error, CustomStringConvertible {
    public var kind: String?
    public var apiVersion: String?
    public var metadata: ListMeta?
    public var status: String?
    public var message: String?
    /// Machine-readable reason: "Expired", "Gone", "Unauthorized", "Forbidden", "TooManyRequests", ...
    public var reason: String?
    public var details: StatusDetails?
    public var code: Int?

    public init(
        status: String? = "Failure",
        message: String? = nil,
        reason: String? = nil,
        details: StatusDetails? = nil,
        code: Int? = nil
    ) {
        self.kind = "Status"
        self.apiVersion = "v1"
        self.metadata = ListMeta()
        self.status = status
        self.message = message
        self.reason = reason
        self.details = details
        self.code = code
    }

    public var description: String {
        "\(code.map(String.init) ?? "?") \(reason ?? "") \(message ?? "")"
    }
}

public struct StatusDetails: Codable, Sendable, Hashable {
    public var name: String?
    public var group: String?
    public var kind: String?
    public var retryAfterSeconds: Int?
    public init(name: String? = nil, group: String? = nil, kind: String? = nil, retryAfterSeconds: Int? = nil) {
        self.name = name
        self.group = group
        self.kind = kind
        self.retryAfterSeconds = retryAfterSeconds
    }
}
