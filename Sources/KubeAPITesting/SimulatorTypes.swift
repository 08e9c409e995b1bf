import KubeAPI
import KubeModels
import NIOCore

/// A request the simulator answered, for tests to assert on.
public struct RecordedRequest: Sendable, Hashable {
    public var method: String
    public var path: String
    public var query: [String: String]
    public var user: String?
    public var status: Int
    /// When the simulator answered.
    public var at: ContinuousClock.Instant
    public var isWatch: Bool { query["watch"] == "true" || query["watch"] == "1" }
}

/// Which requests a scripted failure applies to.
public enum RequestMatch: Sendable, Hashable {
    case any
    case list(String? = nil)
    case watch(String? = nil)

    func matches(isWatch: Bool, plural: String?) -> Bool {
        switch self {
        case .any: true
        case .list(let p): !isWatch && plural != nil && (p == nil || p == plural)
        case .watch(let p): isWatch && (p == nil || p == plural)
        }
    }
}

/// How watch streams are written, for testing the client's stream decoding.
public struct WatchStreamShape: Sendable, Hashable {
    /// Each event's bytes are cut at these offsets into separate HTTP chunks.
    public var splitAt: [Int]
    /// Several events are packed into one chunk.
    public var eventsPerChunk: Int
    /// Delay before each chunk: a slow stream.
    public var delayPerChunk: Duration?

    public init(splitAt: [Int] = [], eventsPerChunk: Int = 1, delayPerChunk: Duration? = nil) {
        self.splitAt = splitAt
        self.eventsPerChunk = eventsPerChunk
        self.delayPerChunk = delayPerChunk
    }
}

/// One allowed (verb, resource) pair for the simple authoriser.
public struct Permission: Sendable, Hashable {
    public var verb: String
    public var resource: String
    public init(_ verb: String, _ resource: String) {
        self.verb = verb
        self.resource = resource
    }
    public static func read(_ resource: String) -> Set<Permission> {
        [Permission("get", resource), Permission("list", resource), Permission("watch", resource)]
    }
}

/// What the simulator does when a watch asks for a compacted resourceVersion.
public enum ExpiredWatchResponse: Sendable, Hashable {
    /// HTTP 200 then one ERROR event carrying Status 410 (what the watch cache does).
    case errorEvent
    /// HTTP 410 with a Status body.
    case httpStatus
}

public struct SimulatorOptions: Sendable {
    public var tls: Bool
    /// DNS names in the server certificate.
    public var certificateHostnames: [String]
    /// Whether the certificate also names 127.0.0.1 and ::1 (a client connecting by IP then
    /// verifies without a server name).
    public var certificateNamesLoopback: Bool
    /// Bearer token → user name. Empty: no authentication (anonymous gets everything).
    public var tokens: [String: String]
    /// User → allowed permissions. nil: every authenticated user may do everything.
    public var permissions: [String: Set<Permission>]?
    /// Watch history kept for resuming watches; older versions answer 410.
    public var historyLimit: Int
    /// Interval of BOOKMARK events on watches that allow them.
    public var bookmarkInterval: Duration
    public var expiredWatch: ExpiredWatchResponse
    /// The resourceVersion the simulator starts from.
    public var initialResourceVersion: Int

    public init(
        tls: Bool = true,
        certificateHostnames: [String] = ["localhost"],
        certificateNamesLoopback: Bool = true,
        tokens: [String: String] = [:],
        permissions: [String: Set<Permission>]? = nil,
        historyLimit: Int = 1000,
        bookmarkInterval: Duration = .seconds(60),
        expiredWatch: ExpiredWatchResponse = .errorEvent,
        initialResourceVersion: Int = 1000
    ) {
        self.tls = tls
        self.certificateHostnames = certificateHostnames
        self.certificateNamesLoopback = certificateNamesLoopback
        self.tokens = tokens
        self.permissions = permissions
        self.historyLimit = historyLimit
        self.bookmarkInterval = bookmarkInterval
        self.expiredWatch = expiredWatch
        self.initialResourceVersion = initialResourceVersion
    }
}

public struct SimulatorError: Error, Sendable, CustomStringConvertible {
    public var code: Int
    public var message: String
    public var description: String { "\(code): \(message)" }
}
