import Foundation
import KubeAPI
import KubeModels
import NIOCore
import NIOHTTP1
import Synchronization

/// What the simulator answers to one request.
enum SimResponse {
    case body(HTTPResponseStatus, [(String, String)], ByteBuffer)
    case watch(WatchPlan)
    /// Close the connection without answering.
    case drop
}

struct WatchPlan {
    var id: Int?
    var timeoutSeconds: Int
    var bookmarks: Bool
    var bookmarkInterval: Duration
    var dropAfterEvents: Int?
    var shape: WatchStreamShape
}

extension KubeAPISimulator {
    /// Serves one request. Watch events (and the initial ones) are pushed through `sink`.
    func serve(method: HTTPMethod, uri: String, headers: HTTPHeaders, certificateUser: String?, sink: WatchSink) -> SimResponse {
        let (path, query) = Self.parse(uri)
        return state.withLock { s in
            var user: String? = certificateUser
            let response = route(&s, method: method, path: path, query: query, headers: headers, sink: sink, user: &user)
            let code: Int = switch response {
            case .body(let status, _, _): Int(status.code)
            case .watch: 200
            case .drop: 0
            }
            s.requests.append(RecordedRequest(method: method.rawValue, path: path, query: query, user: user, status: code, at: ContinuousClock.now))
            return response
        }
    }

    private func route(_ s: inout State, method: HTTPMethod, path: String, query: [String: String], headers: HTTPHeaders, sink: WatchSink, user: inout String?) -> SimResponse {
        // Authentication.
        if !s.tokens.isEmpty, user == nil {
            guard let auth = headers.first(name: "Authorization"), auth.hasPrefix("Bearer "),
                  let name = s.tokens[String(auth.dropFirst(7))]
            else {
                return Self.status(Status(message: "Unauthorized", reason: "Unauthorized", code: 401))
            }
            user = name
        }
        if let doc = discovery(path) {
            return .body(.ok, [("Content-Type", "application/json")], doc)
        }
        if let response = namespaces(&s, path: path, method: method, user: user) {
            return response
        }
        guard let target = resolve(path) else {
            return Self.status(Status(message: "the server could not find the requested resource", reason: "NotFound", details: StatusDetails(), code: 404))
        }
        guard method == .GET else {
            return Self.status(Status(message: "the simulator serves reads only; write through its Swift API", reason: "MethodNotAllowed", code: 405))
        }
        let d = target.descriptor
        let isWatch = query["watch"] == "true" || query["watch"] == "1"
        let verb = target.name != nil ? "get" : (isWatch ? "watch" : "list")
        // Authorisation.
        if let permissions = s.permissions {
            let who = user ?? "system:anonymous"
            if !(permissions[who] ?? []).contains(Permission(verb, d.plural)) {
                return Self.forbidden(who, verb, d.plural, group: d.group, namespace: target.namespace)
            }
        }
        // Scripted failures.
        if let i = s.failures.firstIndex(where: { $0.remaining > 0 && $0.match.matches(isWatch: isWatch, plural: d.plural) }) {
            s.failures[i].remaining -= 1
            let f = s.failures[i]
            if s.failures[i].remaining == 0 { s.failures.remove(at: i) }
            if f.status == 0 { return .drop }
            let reason = f.status == 429 ? "TooManyRequests" : "InternalError"
            var headers: [(String, String)] = []
            if let ra = f.retryAfterSeconds { headers.append(("Retry-After", String(ra))) }
            return Self.status(Status(message: "scripted failure \(f.status)", reason: reason, details: StatusDetails(retryAfterSeconds: f.retryAfterSeconds), code: f.status), headers: headers)
        }
        if let name = target.name {
            let key = ObjectKey(namespace: target.namespace ?? "", name: name)
            guard let stored = s.objects[d.plural]?[key] else {
                return Self.status(Status(message: "\(d.plural) \"\(name)\" not found", reason: "NotFound", details: StatusDetails(name: name, group: d.group, kind: d.plural), code: 404))
            }
            var buf = ByteBuffer()
            Wire.objectWithKind(stored, d, into: &buf)
            return .body(.ok, [("Content-Type", "application/json")], buf)
        }
        let labels: LabelSelector?
        let fields: FieldSelector?
        do {
            labels = try query["labelSelector"].map { try LabelSelector(parsing: $0) }
            fields = try query["fieldSelector"].map { try FieldSelector(parsing: $0) }
        } catch {
            return Self.status(Status(message: "unable to parse requirement: \(error)", reason: "BadRequest", code: 400))
        }
        if let bad = fields?.requirements.first(where: { !d.selectableFields.contains($0.field) }) {
            return Self.status(Status(message: "field label not supported: \(bad.field)", reason: "BadRequest", code: 400))
        }
        if isWatch {
            return watch(&s, d, namespace: target.namespace, labels: labels, fields: fields, query: query, sink: sink)
        }
        let table = TablePrinter.wantsTable(headers.first(name: "Accept"))
        return list(&s, d, namespace: target.namespace, labels: labels, fields: fields, query: query, table: table)
    }

    private func list(_ s: inout State, _ d: ResourceDescriptor, namespace: String?, labels: LabelSelector?, fields: FieldSelector?, query: [String: String], table: Bool) -> SimResponse {
        let limit = query["limit"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil }
        var snapshot: Snapshot
        var snapshotID: Int
        var offset = 0
        if let token = query["continue"], !token.isEmpty {
            if s.expireNextContinueToken {
                s.expireNextContinueToken = false
                s.snapshots.removeAll()
            }
            guard let (id, off, rv) = Self.decodeContinue(token) else {
                return Self.status(Status(message: "continue key is not valid", reason: "BadRequest", code: 400))
            }
            guard let snap = s.snapshots[id], rv >= s.compactedResourceVersion else {
                return Self.status(Status(
                    message: "the continue token has expired (the list's resourceVersion \(rv) was compacted); start the list again without it",
                    reason: "Expired",
                    code: 410
                ))
            }
            snapshot = snap
            snapshotID = id
            offset = off
        } else {
            if let rv = query["resourceVersion"].flatMap(Int.init), rv > s.resourceVersion {
                return Self.status(Status(message: "Too large resource version: \(rv), current: \(s.resourceVersion)", reason: "Timeout", details: StatusDetails(retryAfterSeconds: 1), code: 504))
            }
            let items = (s.objects[d.plural] ?? [:]).values
                .filter { $0.matches(namespace: namespace, labels: labels, fields: fields) }
                .sorted { $0.key < $1.key }
            snapshot = Snapshot(resourceVersion: s.resourceVersion, items: items)
            snapshotID = s.nextID
            s.nextID += 1
        }
        let end = limit.map { min(offset + $0, snapshot.items.count) } ?? snapshot.items.count
        let page = snapshot.items[offset..<end]
        var token: String?
        var remaining: Int?
        if end < snapshot.items.count {
            s.snapshots[snapshotID] = snapshot
            token = Self.encodeContinue(id: snapshotID, offset: end, rv: snapshot.resourceVersion)
            remaining = snapshot.items.count - end
        } else {
            s.snapshots[snapshotID] = nil
        }
        let body = table
            ? TablePrinter.table(d, items: page, rv: snapshot.resourceVersion, continueToken: token, remaining: remaining)
            : Wire.list(d, rv: snapshot.resourceVersion, continueToken: token, remaining: remaining, items: page)
        return .body(.ok, [("Content-Type", "application/json")], body)
    }

    private func watch(_ s: inout State, _ d: ResourceDescriptor, namespace: String?, labels: LabelSelector?, fields: FieldSelector?, query: [String: String], sink: WatchSink) -> SimResponse {
        let timeout = query["timeoutSeconds"].flatMap(Int.init) ?? Int.random(in: 1800...3600)
        var plan = WatchPlan(
            id: nil,
            timeoutSeconds: timeout,
            bookmarks: query["allowWatchBookmarks"] == "true",
            bookmarkInterval: options.bookmarkInterval,
            dropAfterEvents: s.watchDrops.isEmpty ? nil : s.watchDrops.removeFirst(),
            shape: s.streamShape
        )
        let rvText = query["resourceVersion"] ?? ""
        let start = Int(rvText).map { max($0, 0) } ?? s.resourceVersion
        let watcher = Watcher(plural: d.plural, namespace: namespace, labels: labels, fields: fields, bookmarks: plan.bookmarks, startResourceVersion: start, sink: sink)
        var initial: [ByteBuffer] = []
        if rvText.isEmpty || rvText == "0" {
            // "Start at most recent" / "any": the current state as synthetic ADDED events.
            initial = (s.objects[d.plural] ?? [:]).values
                .filter { $0.matches(namespace: namespace, labels: labels, fields: fields) }
                .sorted { $0.key < $1.key }
                .map { Wire.event("ADDED", $0, d) }
        } else {
            guard let rv = Int(rvText) else {
                return Self.status(Status(message: "invalid resource version \"\(rvText)\"", reason: "BadRequest", code: 400))
            }
            if rv < s.compactedResourceVersion {
                let status = Self.expiredStatus(requested: rv, oldest: s.compactedResourceVersion)
                if s.expiredWatch == .httpStatus { return Self.status(status) }
                sink.send([Wire.errorEvent(status)])
                sink.end()
                return .watch(plan)
            }
            initial = s.liveHistory.lazy
                .filter { $0.resourceVersion > rv && $0.plural == d.plural }
                .compactMap { Self.render($0, for: watcher, d) }
        }
        let id = s.nextID
        s.nextID += 1
        s.watchers[id] = watcher
        plan.id = id
        if s.holdWatchEvents {
            s.watchers[id]?.held = initial
        } else if !initial.isEmpty {
            sink.send(initial)
        }
        return .watch(plan)
    }

    /// Namespaces, read-only: those holding objects, plus the ones every cluster has.
    /// (kubectl looks a namespace up when an object in it is not found.)
    private func namespaces(_ s: inout State, path: String, method: HTTPMethod, user: String?) -> SimResponse? {
        let parts = path.split(separator: "/").map(String.init)
        guard parts.count >= 3, parts.count <= 4, parts[0] == "api", parts[1] == "v1", parts[2] == "namespaces", method == .GET else { return nil }
        if let permissions = s.permissions {
            let verb = parts.count == 4 ? "get" : "list"
            let who = user ?? "system:anonymous"
            if !(permissions[who] ?? []).contains(Permission(verb, "namespaces")) {
                return Self.forbidden(who, verb, "namespaces", group: "", namespace: nil)
            }
        }
        var names: Set<String> = ["default", "kube-system", "kube-public", "kube-node-lease"]
        for objects in s.objects.values {
            for key in objects.keys where !key.namespace.isEmpty { names.insert(key.namespace) }
        }
        func json(_ name: String) -> String {
            #"{"metadata":{"name":"\#(name)","resourceVersion":"\#(options.initialResourceVersion)","creationTimestamp":"2026-01-01T00:00:00Z"},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}}"#
        }
        if parts.count == 4 {
            guard names.contains(parts[3]) else {
                return Self.status(Status(message: "namespaces \"\(parts[3])\" not found", reason: "NotFound", details: StatusDetails(name: parts[3], kind: "namespaces"), code: 404))
            }
            return .body(.ok, [("Content-Type", "application/json")], ByteBuffer(string: #"{"kind":"Namespace","apiVersion":"v1","# + json(parts[3]).dropFirst()))
        }
        let items = names.sorted().map(json).joined(separator: ",")
        return .body(.ok, [("Content-Type", "application/json")], ByteBuffer(string: #"{"kind":"NamespaceList","apiVersion":"v1","metadata":{"resourceVersion":"\#(s.resourceVersion)"},"items":[\#(items)]}"#))
    }

    func unregisterWatch(_ id: Int) {
        _ = state.withLock { $0.watchers.removeValue(forKey: id) }
    }

    /// A periodic bookmark for one watch (none while events are held back).
    func bookmark(_ id: Int) {
        state.withLock { s in
            guard let w = s.watchers[id], w.bookmarks, !s.holdWatchEvents, let d = descriptors[w.plural] else { return }
            w.sink.send([Wire.bookmark(s.resourceVersion, d)])
        }
    }

    struct Target {
        var descriptor: ResourceDescriptor
        var namespace: String?
        var name: String?
    }

    private func resolve(_ path: String) -> Target? {
        let parts = path.split(separator: "/").map(String.init)
        let group: String
        var rest: ArraySlice<String>
        if parts.count >= 3, parts[0] == "api", parts[1] == "v1" {
            group = ""
            rest = parts[2...]
        } else if parts.count >= 4, parts[0] == "apis" {
            group = parts[1]
            rest = parts[3...]
        } else {
            return nil
        }
        var namespace: String?
        if rest.count >= 3, rest.first == "namespaces" {
            namespace = rest[rest.startIndex + 1]
            rest = rest.dropFirst(2)
        }
        guard let plural = rest.first, let d = descriptors[plural], d.group == group,
              namespace == nil || d.namespaced, rest.count <= 2
        else { return nil }
        return Target(descriptor: d, namespace: namespace, name: rest.count == 2 ? rest.last : nil)
    }

    /// 403 with the message the real authoriser gives, which names the missing permission.
    static func forbidden(_ who: String, _ verb: String, _ plural: String, group: String, namespace: String?) -> SimResponse {
        let scope = namespace.map { "in the namespace \"\($0)\"" } ?? "at the cluster scope"
        return status(Status(
            message: "\(plural) is forbidden: User \"\(who)\" cannot \(verb) resource \"\(plural)\" in API group \"\(group)\" \(scope)",
            reason: "Forbidden",
            details: StatusDetails(kind: plural),
            code: 403
        ))
    }

    static func status(_ status: Status, headers: [(String, String)] = []) -> SimResponse {
        .body(HTTPResponseStatus(statusCode: status.code ?? 500), [("Content-Type", "application/json")] + headers, ByteBuffer(bytes: Wire.encode(status)))
    }

    static func parse(_ uri: String) -> (String, [String: String]) {
        guard let q = uri.firstIndex(of: "?") else { return (uri, [:]) }
        var query: [String: String] = [:]
        for pair in uri[uri.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            let k = String(kv[0]).removingPercentEncoding ?? String(kv[0])
            let raw = kv.count > 1 ? String(kv[1]).replacingOccurrences(of: "+", with: " ") : ""
            query[k] = raw.removingPercentEncoding ?? raw
        }
        return (String(uri[..<q]), query)
    }

    static func encodeContinue(id: Int, offset: Int, rv: Int) -> String {
        Data("\(id):\(offset):\(rv)".utf8).base64EncodedString()
    }

    static func decodeContinue(_ token: String) -> (Int, Int, Int)? {
        guard let d = Data(base64Encoded: token) else { return nil }
        let parts = String(decoding: d, as: UTF8.self).split(separator: ":").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        return (parts[0], parts[1], parts[2])
    }
}
