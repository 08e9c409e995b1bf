import Foundation
import Yams

/// Turns a file's text into JSON-compatible values, one per document (nil for an empty one).
enum Documents {
    /// YAML 1.1 scalars as go-yaml (and so kubectl) reads them, except timestamps: the
    /// Kubernetes models hold times as strings, and a Date is not a JSON value.
    static let resolver = Resolver.default.removing(.timestamp)

    static func split(_ text: String, file: String, json: Bool? = nil, errors: inout [ManifestError]) -> [Any?] {
        if json ?? file.lowercased().hasSuffix(".json") {
            do {
                return [try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])]
            } catch {
                errors.append(ManifestError(location: ManifestLocation(file: file, document: 1),
                                            reason: "not valid JSON: \(jsonReason(error))"))
                return []
            }
        }
        var out: [Any?] = []
        do {
            var documents = try compose_all(yaml: text, resolver)
            while let node = documents.next() {
                do {
                    out.append(try value(node))
                } catch {
                    errors.append(ManifestError(location: ManifestLocation(file: file, document: out.count + 1),
                                                reason: error.reason))
                    out.append(nil)
                }
            }
            if let error = documents.error { throw error }
        } catch {
            errors.append(ManifestError(location: ManifestLocation(file: file, document: out.count + 1),
                                        reason: "not valid YAML: \(yamlReason(error))"))
        }
        return out
    }

    struct Unsupported: Error { var reason: String }

    /// A YAML node as the values JSONSerialization produces.
    static func value(_ node: Yams.Node) throws(Unsupported) -> Any {
        switch node {
        case .scalar(let s):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return NSNull()
            case .bool: if let b = Bool.construct(from: s) { return b }
            case .int: if let i = Int.construct(from: s) { return i }
            case .float:
                if let d = Double.construct(from: s) {
                    guard d.isFinite else { throw Unsupported(reason: "line \(line(node)): \(s.string) is not a JSON number") }
                    return d
                }
            default: break
            }
            return s.string
        case .sequence(let seq):
            var out: [Any] = []
            for n in seq { out.append(try value(n)) }
            return out
        case .mapping(let map):
            var out: [String: Any] = [:]
            for (k, v) in map {
                guard case .scalar(let key) = k else {
                    throw Unsupported(reason: "line \(line(k)): a mapping key must be a plain value")
                }
                out[key.string] = try value(v)
            }
            return out
        case .alias:
            throw Unsupported(reason: "line \(line(node)): YAML aliases are not supported")
        }
    }

    static func line(_ node: Yams.Node) -> String { node.mark.map { String($0.line) } ?? "?" }

    static func yamlReason(_ error: any Error) -> String {
        if let e = error as? YamlError {
            switch e {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                 .composer(let context, let problem, let mark, _):
                return "line \(mark.line), column \(mark.column): \(problem)" + (context.map { " \($0.text)" } ?? "")
            case .reader(let problem, let offset, let value, _):
                // Yams' description quotes the rest of the input (all of a binary file): say
                // what is wrong and where, not what the file holds.
                return "byte \(offset.map(String.init) ?? "?"): \(problem)" + (value >= 0 ? " (0x\(String(value, radix: 16)))" : "")
            default: return "\(e)"
            }
        }
        return "\(error)"
    }

    static func jsonReason(_ error: any Error) -> String {
        let ns = error as NSError
        return (ns.userInfo[NSDebugDescriptionErrorKey] as? String) ?? ns.localizedDescription
    }
}
