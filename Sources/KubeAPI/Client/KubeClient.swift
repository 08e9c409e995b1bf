import AsyncHTTPClient
import Foundation
import KubeModels
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// Options of a list request.
public struct ListOptions: Sendable, Hashable {
    public var namespace: String?
    public var labelSelector: LabelSelector?
    public var fieldSelector: FieldSelector?
    public var limit: Int?
    public var continueToken: String?
    /// nil: the most recent state (a consistent read).
    public var resourceVersion: String?

    public init(namespace: String? = nil, labelSelector: LabelSelector? = nil, fieldSelector: FieldSelector? = nil, limit: Int? = nil, continueToken: String? = nil, resourceVersion: String? = nil) {
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.continueToken = continueToken
        self.resourceVersion = resourceVersion
    }
}

/// Options of a watch request.
public struct WatchOptions: Sendable, Hashable {
    public var namespace: String?
    public var labelSelector: LabelSelector?
    public var fieldSelector: FieldSelector?
    public var resourceVersion: String?
    /// The server ends the watch after this many seconds.
    public var timeoutSeconds: Int
    public var allowBookmarks: Bool

    public init(namespace: String? = nil, labelSelector: LabelSelector? = nil, fieldSelector: FieldSelector? = nil, resourceVersion: String?, timeoutSeconds: Int, allowBookmarks: Bool = true) {
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.resourceVersion = resourceVersion
        self.timeoutSeconds = timeoutSeconds
        self.allowBookmarks = allowBookmarks
    }
}

/// What went wrong talking to the API server.
public enum KubeAPIError: Error, Sendable, CustomStringConvertible {
    /// The server answered with an error status (the body's Status, or one made from the code).
    case status(Status, retryAfter: Duration?)
    /// The connection failed or broke.
    case transport(String)
    case decoding(KubeDecodingError)

    public var code: Int? {
        if case .status(let s, _) = self { return s.code }
        return nil
    }

    /// 410 Gone / Expired: the requested resourceVersion or continue token is too old.
    public var isExpired: Bool { code == 410 }

    public var description: String {
        switch self {
        case .status(let s, let ra): "API error \(s)" + (ra.map { " (retry after \($0))" } ?? "")
        case .transport(let m): "connection to the API server failed: \(m)"
        case .decoding(let e): e.description
        }
    }
}

/// A small Kubernetes REST client: list and watch typed resources.
public final class KubeClient: Sendable {
    public let config: ClusterConfig
    /// The server URL requests go to; its host is `tls-server-name` when one is set.
    private let baseURL: String
    private let http: HTTPClient
    private let logger: Logger
    /// Shared by every decode of this client, so repeated strings are stored once.
    private let interner = StringInterner()
    private static let silent = Logger(label: "sluice.kubeapi.http", factory: { _ in SwiftLogNoOpLogHandler() })

    /// - Parameter connectTimeout: how long to keep trying to connect (and to complete TLS)
    ///   before a request fails.
    public init(config: ClusterConfig, logger: Logger, connectTimeout: Duration = .seconds(10)) throws {
        self.config = config
        self.logger = logger
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = config.tls.certificateAuthorityPEM {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
            } catch {
                throw ConfigError("certificate authority of \(config.server) is not valid PEM: \(error)")
            }
        }
        if config.tls.insecureSkipVerify {
            tls.certificateVerification = .none
            logger.warning("TLS VERIFICATION IS DISABLED for the Kubernetes API: anyone on the path can impersonate the API server", metadata: ["kube.server": "\(config.server)"])
        }
        var baseURL = config.server
        var dnsOverride: [String: String] = [:]
        if let serverName = config.tls.serverName, !serverName.isEmpty,
           var url = URLComponents(string: config.server), let host = url.host, host != serverName {
            // Verify (and send SNI for) serverName while connecting to the configured host:
            // request serverName, and resolve it to the real host.
            dnsOverride[serverName] = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
            url.host = serverName
            baseURL = url.string ?? config.server
        }
        self.baseURL = baseURL
        if let cert = config.tls.clientCertificatePEM, let key = config.tls.clientKeyPEM {
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(cert).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            } catch {
                throw ConfigError("client certificate or key for \(config.server) is not valid PEM: \(error)")
            }
        }
        var httpConfig = HTTPClient.Configuration(tlsConfiguration: tls)
        httpConfig.timeout = .init(connect: .milliseconds(Int64(connectTimeout / .milliseconds(1))), read: nil)
        httpConfig.decompression = .disabled
        httpConfig.dnsOverride = dnsOverride
        // AsyncHTTPClient's own logs stay off: they would carry request headers at trace level.
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: httpConfig, backgroundActivityLogger: Self.silent)
    }

    public func shutdown() async throws {
        try await http.shutdown()
    }

    // A client dropped without `shutdown()` (a task cancelled or failed half way) must not take
    // the process down: AsyncHTTPClient traps when it is deinitialised while running. Shutting
    // down again is harmless (it answers "already shut down" to the callback).
    deinit {
        http.shutdown(queue: .global()) { _ in }
    }

    /// One page of a list.
    public func list<Object: KubeResource>(_ type: Object.Type, _ options: ListOptions = ListOptions()) async throws -> ObjectList<Object> {
        var query: [(String, String)] = []
        if let s = options.labelSelector, !s.requirements.isEmpty { query.append(("labelSelector", s.description)) }
        if let s = options.fieldSelector, !s.requirements.isEmpty { query.append(("fieldSelector", s.description)) }
        if let l = options.limit { query.append(("limit", String(l))) }
        if let c = options.continueToken { query.append(("continue", c)) }
        if let rv = options.resourceVersion { query.append(("resourceVersion", rv)) }
        let response = try await send(path: Object.resource.path(namespace: options.namespace), query: query, deadline: .seconds(60))
        // Items are decoded as they arrive; memory is the decoded page plus one item's bytes.
        var page = ListStreamDecoder<Object>(decoder: makeDecoder())
        do {
            for try await chunk in response.body {
                try page.feed(chunk)
            }
            return try page.finish()
        } catch let e as KubeDecodingError {
            throw KubeAPIError.decoding(e)
        } catch let e as ListStreamDecoder<Object>.Malformed {
            throw KubeAPIError.transport("\(Object.resource.plural): \(e)")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw KubeAPIError.transport("reading list of \(Object.resource.plural): \(error)")
        }
    }

    /// Every page of a list (`options.limit` per page), keyed, with the list's resourceVersion.
    /// A continue token that expires mid-list (410) restarts the list from the first page, as
    /// the server asks. `filter` re-applies the selectors locally. Also the one-shot read for
    /// tools (`sluice diff`) that need the state once, without a watch.
    public func listAll<Object: KubeResource>(
        _ type: Object.Type,
        _ options: ListOptions = ListOptions(limit: 500),
        where filter: (Object) -> Bool = { _ in true },
        logger: Logger? = nil
    ) async throws -> (objects: [ObjectKey: Object], resourceVersion: String) {
        restart: while true {
            // Objects go straight into the dictionary the caller keeps: no second copy.
            var items: [ObjectKey: Object] = [:]
            var pageOptions = options
            pageOptions.continueToken = nil
            var listRV: String?
            repeat {
                let page: ObjectList<Object>
                do {
                    page = try await list(Object.self, pageOptions)
                } catch let e as KubeAPIError where e.isExpired && pageOptions.continueToken != nil {
                    (logger ?? self.logger).info("continue token expired mid-list; restarting the list", metadata: ["kube.resource": "\(Object.resource.plural)"])
                    continue restart
                }
                // Every page of a paged list is served at the first page's resourceVersion.
                if listRV == nil {
                    listRV = page.metadata.resourceVersion
                    items.reserveCapacity(page.items.count + Int(page.metadata.remainingItemCount ?? 0))
                }
                for item in page.items where filter(item) { items[item.key] = item }
                pageOptions.continueToken = page.metadata.continue.flatMap { $0.isEmpty ? nil : $0 }
            } while pageOptions.continueToken != nil
            return (items, listRV ?? "")
        }
    }

    /// Watches until the server ends the stream; calls `onEvent` for each event in order.
    /// The body is decoded incrementally: memory is bounded by the largest object.
    public func watch<Object: KubeResource>(
        _ type: Object.Type,
        _ options: WatchOptions,
        onEvent: (WatchEvent<Object>) async throws -> Void
    ) async throws {
        var query: [(String, String)] = [("watch", "true")]
        if let s = options.labelSelector, !s.requirements.isEmpty { query.append(("labelSelector", s.description)) }
        if let s = options.fieldSelector, !s.requirements.isEmpty { query.append(("fieldSelector", s.description)) }
        if let rv = options.resourceVersion { query.append(("resourceVersion", rv)) }
        if options.allowBookmarks { query.append(("allowWatchBookmarks", "true")) }
        query.append(("timeoutSeconds", String(options.timeoutSeconds)))
        let response = try await send(path: Object.resource.path(namespace: options.namespace), query: query, deadline: .seconds(60))
        var framer = JSONStreamFramer()
        let decoder = makeDecoder()
        var events: [WatchEvent<Object>] = []
        do {
            for try await chunk in response.body {
                try framer.feed(chunk) { bytes in
                    let data = Data(bytes)
                    do {
                        events.append(try KubeDecoding.decode(WatchEvent<Object>.self, from: data, decoder: decoder))
                    } catch let e as KubeDecodingError {
                        throw KubeAPIError.decoding(e)
                    }
                }
                for e in events { try await onEvent(e) }
                events.removeAll(keepingCapacity: true)
            }
        } catch let e as KubeAPIError {
            throw e
        } catch is CancellationError {
            throw CancellationError()
        } catch let e as JSONStreamFramer.TooLarge {
            throw KubeAPIError.transport("\(e)")
        } catch let e as JSONStreamFramer.Malformed {
            throw KubeAPIError.transport("\(e)")
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw KubeAPIError.transport("watch of \(Object.resource.plural) broke: \(error)")
        }
        if framer.pendingByteCount > 0 {
            throw KubeAPIError.transport("watch of \(Object.resource.plural) ended inside an object (\(framer.pendingByteCount) bytes)")
        }
    }

    /// A GET; throws `KubeAPIError.status` for anything but 2xx.
    func send(path: String, query: [(String, String)], deadline: Duration) async throws -> HTTPClientResponse {
        var url = baseURL + path
        if !query.isEmpty {
            url += "?" + query.map { "\($0.0)=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "sluice/0 (linux) kubeapi")
        if let token = try await config.credentials.token() {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .nanoseconds(Int64(deadline.components.seconds) * 1_000_000_000), logger: Self.silent)
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw KubeAPIError.transport("\(path): \(error)")
        }
        guard (200..<300).contains(response.status.code) else {
            let body = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
            let data = body.withUnsafeReadableBytes { Data($0) }
            var status = (try? JSONDecoder().decode(Status.self, from: data)) ?? Status(message: String(decoding: data.prefix(200), as: UTF8.self))
            let code = Int(response.status.code)
            if status.code == nil { status.code = code }
            if status.reason == nil { status.reason = response.status.reasonPhrase }
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(Int.init).map { Duration.seconds($0) }
                ?? status.details?.retryAfterSeconds.map { Duration.seconds($0) }
            throw KubeAPIError.status(status, retryAfter: retryAfter)
        }
        return response
    }

    /// The list decoding of `list(_:_:)`, from given chunks (for tests).
    public static func decodeListForTesting<Object: KubeResource>(_ type: Object.Type, _ chunks: [ByteBuffer]) throws -> ObjectList<Object> {
        var page = ListStreamDecoder<Object>(decoder: JSONDecoder())
        for c in chunks { try page.feed(c) }
        return try page.finish()
    }

    private func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        if let key = StringInterner.userInfoKey { decoder.userInfo[key] = interner }
        return decoder
    }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
