import Foundation

/// A label selector in the API's string syntax (`a=b,!c,d in (x,y)`), parsed so that the
/// client can re-apply locally the filter it asked the server for.
public struct LabelSelector: Sendable, Hashable, CustomStringConvertible {
    public enum Requirement: Sendable, Hashable {
        case exists(String)
        case doesNotExist(String)
        case equals(String, String)
        case notEquals(String, String)
        case `in`(String, Set<String>)
        case notIn(String, Set<String>)

        func matches(_ labels: [String: String]) -> Bool {
            switch self {
            case .exists(let k): labels[k] != nil
            case .doesNotExist(let k): labels[k] == nil
            case .equals(let k, let v): labels[k] == v
            // As in Kubernetes: `!=` also matches objects without the label.
            case .notEquals(let k, let v): labels[k] != v
            case .in(let k, let vs): labels[k].map(vs.contains) ?? false
            case .notIn(let k, let vs): labels[k].map { !vs.contains($0) } ?? true
            }
        }

        var text: String {
            switch self {
            case .exists(let k): k
            case .doesNotExist(let k): "!\(k)"
            case .equals(let k, let v): "\(k)=\(v)"
            case .notEquals(let k, let v): "\(k)!=\(v)"
            case .in(let k, let vs): "\(k) in (\(vs.sorted().joined(separator: ",")))"
            case .notIn(let k, let vs): "\(k) notin (\(vs.sorted().joined(separator: ",")))"
            }
        }
    }

    public var requirements: [Requirement]

    public init(_ requirements: [Requirement]) { self.requirements = requirements }

    /// Parses the API's selector syntax; throws naming the part it cannot read.
    public init(parsing text: String) throws(SelectorError) {
        var reqs: [Requirement] = []
        for part in Self.splitTopLevel(text) {
            let p = part.trimmingCharacters(in: .whitespaces)
            if p.isEmpty { continue }
            reqs.append(try Self.parseRequirement(p))
        }
        self.requirements = reqs
    }

    public func matches(_ labels: [String: String]?) -> Bool {
        let l = labels ?? [:]
        return requirements.allSatisfy { $0.matches(l) }
    }

    public var description: String { requirements.map(\.text).joined(separator: ",") }

    private static func splitTopLevel(_ s: String) -> [String] {
        var parts: [String] = []
        var cur = ""
        var depth = 0
        for ch in s {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1 }
            if ch == ",", depth == 0 {
                parts.append(cur)
                cur = ""
            } else {
                cur.append(ch)
            }
        }
        parts.append(cur)
        return parts
    }

    private static func parseRequirement(_ p: String) throws(SelectorError) -> Requirement {
        if p.hasPrefix("!") {
            return .doesNotExist(try key(String(p.dropFirst()), in: p))
        }
        for (op, make) in [("!=", Requirement.notEquals), ("==", Requirement.equals), ("=", Requirement.equals)] {
            if let r = p.range(of: op) {
                return make(try key(String(p[..<r.lowerBound]), in: p), String(p[r.upperBound...]).trimmingCharacters(in: .whitespaces))
            }
        }
        for (op, make) in [(" notin ", Requirement.notIn), (" in ", Requirement.in)] {
            if let r = p.range(of: op) {
                var set = String(p[r.upperBound...]).trimmingCharacters(in: .whitespaces)
                guard set.hasPrefix("("), set.hasSuffix(")") else { throw SelectorError(text: p, reason: "expected a parenthesised value set") }
                set = String(set.dropFirst().dropLast())
                let values = Set(set.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                return make(try key(String(p[..<r.lowerBound]), in: p), values)
            }
        }
        return .exists(try key(p, in: p))
    }

    private static func key(_ raw: String, in part: String) throws(SelectorError) -> String {
        let k = raw.trimmingCharacters(in: .whitespaces)
        guard !k.isEmpty, !k.contains(where: { $0 == " " || $0 == "(" || $0 == ")" || $0 == "!" || $0 == "=" }) else {
            throw SelectorError(text: part, reason: "invalid label key \"\(k)\"")
        }
        return k
    }
}

/// A field selector (`spec.clusterIP!=None,metadata.namespace=default`).
public struct FieldSelector: Sendable, Hashable, CustomStringConvertible {
    public enum Requirement: Sendable, Hashable {
        case equals(String, String)
        case notEquals(String, String)

        public var field: String {
            switch self {
            case .equals(let f, _), .notEquals(let f, _): f
            }
        }
    }

    public var requirements: [Requirement]

    public init(_ requirements: [Requirement]) { self.requirements = requirements }

    public init(parsing text: String) throws(SelectorError) {
        var reqs: [Requirement] = []
        for raw in text.split(separator: ",") {
            let p = raw.trimmingCharacters(in: .whitespaces)
            if let r = p.range(of: "!=") {
                reqs.append(.notEquals(String(p[..<r.lowerBound]), String(p[r.upperBound...])))
            } else if let r = p.range(of: "==") ?? p.range(of: "=") {
                reqs.append(.equals(String(p[..<r.lowerBound]), String(p[r.upperBound...])))
            } else {
                throw SelectorError(text: p, reason: "expected field=value or field!=value")
            }
        }
        self.requirements = reqs
    }

    /// Whether the object matches; fields the resource cannot select on never match.
    public func matches<Object: KubeResource>(_ object: Object) -> Bool {
        requirements.allSatisfy { req in
            switch req {
            case .equals(let f, let v): object.fieldValue(f) == v
            case .notEquals(let f, let v): object.fieldValue(f).map { $0 != v } ?? false
            }
        }
    }

    public var description: String {
        requirements.map {
            switch $0 {
            case .equals(let f, let v): "\(f)=\(v)"
            case .notEquals(let f, let v): "\(f)!=\(v)"
            }
        }.joined(separator: ",")
    }
}

public struct SelectorError: Error, Sendable, Hashable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "cannot parse selector \"\(text)\": \(reason)" }
}
