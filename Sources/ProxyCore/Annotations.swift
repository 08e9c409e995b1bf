import KubeModels

/// Sluice's own annotations (DESIGN.md, "Weights and consistent hashing").
public enum SluiceAnnotation {
    /// EndpointSlice: weight 0…65535 of every endpoint in the slice; 0 drains.
    public static let weight = "sluice.dev/weight"
    /// Service: `random` or `maglev`.
    public static let loadBalancing = "sluice.dev/load-balancing"
    /// Service: `source-ip` or `five-tuple` (Maglev only).
    public static let maglevHash = "sluice.dev/maglev-hash"
    /// Service: `name=share,...`: forward to the named Services' endpoints in these shares.
    /// Each port of the annotated Service takes the backends' endpoints of the slice port with
    /// the same name and protocol, as a Service takes its own.
    public static let trafficSplit = "sluice.dev/traffic-split"
}

/// One backend group of a `sluice.dev/traffic-split` Service.
public struct TrafficSplitGroup: Hashable, Sendable {
    /// The backend Service, in the annotated Service's namespace.
    public var service: String
    /// Relative share of new connections; 0 drains the group.
    public var share: UInt16

    public init(service: String, share: UInt16) {
        self.service = service
        self.share = share
    }
}

/// What a Service's Sluice annotations resolved to.
public struct ServiceAnnotations: Hashable, Sendable {
    public var balancing: LoadBalancing = .random
    /// Nil: the Service forwards to its own endpoints.
    public var trafficSplit: [TrafficSplitGroup]?

    public init(balancing: LoadBalancing = .random, trafficSplit: [TrafficSplitGroup]? = nil) {
        self.balancing = balancing
        self.trafficSplit = trafficSplit
    }
}

/// The last good value of each Sluice annotation per Service. DESIGN.md: a bad value is
/// reported and the Service keeps its last good configuration, so parsing needs this memory.
/// Each annotation keeps its own last good value: a typo in one does not undo another.
public struct LastGoodConfigs: Hashable, Sendable {
    struct Entry: Hashable, Sendable {
        var maglev = false
        var fiveTuple = false
        var trafficSplit: [TrafficSplitGroup]?
    }
    var entries: [ObjectKey: Entry] = [:]

    public init() {}

    /// What the Service resolved to last time, if it was seen.
    public subscript(service: ObjectKey) -> ServiceAnnotations? {
        entries[service].map { e in
            ServiceAnnotations(balancing: e.maglev ? .maglev(fiveTuple: e.fiveTuple) : .random, trafficSplit: e.trafficSplit)
        }
    }

    mutating func forget(_ service: ObjectKey) { entries[service] = nil }
}

enum AnnotationParser {
    static func annotationField(_ key: String) -> String { "metadata.annotations[\(key)]" }

    /// Resolves the Service's annotations, falling back field by field to the last good value.
    static func service(_ service: Service, memory: inout LastGoodConfigs, sink: inout DiagnosticSink) -> ServiceAnnotations {
        let key = ObjectKey(service.metadata)
        let annotations = service.metadata.annotations ?? [:]
        var entry = memory.entries[key] ?? LastGoodConfigs.Entry()

        switch annotations[SluiceAnnotation.loadBalancing] {
        case nil, "random": entry.maglev = false
        case "maglev": entry.maglev = true
        case let bad?:
            sink.report(annotationField(SluiceAnnotation.loadBalancing), bad,
                        "expected random or maglev; keeping \(entry.maglev ? "maglev" : "random")")
        }
        switch annotations[SluiceAnnotation.maglevHash] {
        case nil, "source-ip": entry.fiveTuple = false
        case "five-tuple": entry.fiveTuple = true
        case let bad?:
            sink.report(annotationField(SluiceAnnotation.maglevHash), bad,
                        "expected source-ip or five-tuple; keeping \(entry.fiveTuple ? "five-tuple" : "source-ip")")
        }
        if let text = annotations[SluiceAnnotation.trafficSplit] {
            switch trafficSplit(text, self: service.metadata.name) {
            case .success(let groups): entry.trafficSplit = groups
            case .failure(let problem):
                let kept = entry.trafficSplit.map { g in g.map { "\($0.service)=\($0.share)" }.joined(separator: ",") }
                sink.report(annotationField(SluiceAnnotation.trafficSplit), text,
                            "\(problem.reason); keeping \(kept.map { "\"\($0)\"" } ?? "the Service's own endpoints")")
            }
        } else {
            entry.trafficSplit = nil
        }
        memory.entries[key] = entry
        return memory[key] ?? ServiceAnnotations()
    }

    struct Problem: Error { var reason: String }

    /// `a=90,b=10`: names are Service names of the same namespace, shares 0…65535 with a
    /// positive sum, each name once, not the annotated Service itself.
    static func trafficSplit(_ text: String, self own: String) -> Result<[TrafficSplitGroup], Problem> {
        var groups: [TrafficSplitGroup] = []
        var seen: Set<String> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = part.split(separator: "=", omittingEmptySubsequences: false)
            guard pair.count == 2 else { return .failure(Problem(reason: "\"\(trimmed(part))\" is not name=share")) }
            let name = trimmed(pair[0]), shareText = trimmed(pair[1])
            guard isDNSLabel(name) else { return .failure(Problem(reason: "\"\(name)\" is not a Service name")) }
            guard name != own else { return .failure(Problem(reason: "a Service cannot split traffic to itself")) }
            guard seen.insert(name).inserted else { return .failure(Problem(reason: "\(name) is named twice")) }
            guard let share = parseUInt16(shareText) else {
                return .failure(Problem(reason: "share \"\(shareText)\" of \(name) is not an integer 0…65535"))
            }
            groups.append(TrafficSplitGroup(service: name, share: share))
        }
        guard groups.contains(where: { $0.share > 0 }) else { return .failure(Problem(reason: "all shares are 0")) }
        return .success(groups)
    }

    /// `sluice.dev/weight` of a slice; nil when absent. A bad value is reported and the
    /// slice's endpoints keep weight 1.
    static func sliceWeight(_ slice: EndpointSlice, sink: inout DiagnosticSink) -> UInt16 {
        guard let text = slice.metadata.annotations?[SluiceAnnotation.weight] else { return 1 }
        guard let w = parseUInt16(trimmed(Substring(text))) else {
            sink.report(annotationField(SluiceAnnotation.weight), text, "expected an integer 0…65535; using weight 1")
            return 1
        }
        return w
    }

    static func parseUInt16(_ s: String) -> UInt16? {
        guard !s.isEmpty, s.count <= 5, s.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return UInt16(s)
    }

    static func isDNSLabel(_ s: String) -> Bool { Names.isDNS1035Label(s) }
}

/// The shapes of Kubernetes object names (apimachinery's validation).
enum Names {
    private static func alnum(_ c: UInt8) -> Bool { (0x61...0x7a).contains(c) || (0x30...0x39).contains(c) }

    /// RFC 1123 label: lowercase letters, digits and '-', at most 63, alphanumeric at both ends
    /// (namespaces).
    static func isDNS1123Label(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard let first = u.first, let last = u.last, u.count <= 63, alnum(first), alnum(last) else { return false }
        return u.allSatisfy { alnum($0) || $0 == 0x2d }
    }

    /// RFC 1035 label: an RFC 1123 label that starts with a letter (Service names).
    static func isDNS1035Label(_ s: String) -> Bool {
        guard let first = s.utf8.first, (0x61...0x7a).contains(first) else { return false }
        return isDNS1123Label(s)
    }

    /// RFC 1123 subdomain: dot-separated labels, at most 253 in all (EndpointSlice names).
    static func isDNS1123Subdomain(_ s: String) -> Bool {
        s.utf8.count <= 253 && !s.isEmpty && s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNS1123Label(String($0)) }
    }
}

/// ASCII whitespace trimmed from both ends (Foundation-free).
func trimmed(_ s: Substring) -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
    guard let start = s.firstIndex(where: { !isSpace($0) }), let end = s.lastIndex(where: { !isSpace($0) }) else { return "" }
    return String(s[start...end])
}
