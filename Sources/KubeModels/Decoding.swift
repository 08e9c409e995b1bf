import Foundation

/// A response or event the client could not decode, naming the object, the field and the value.
public struct KubeDecodingError: Error, Sendable, CustomStringConvertible {
    /// "namespace/name" of the object, when it could be found.
    public var object: String?
    /// Dotted path inside the object, e.g. "spec.ports[0].port".
    public var field: String
    /// The offending JSON value, abbreviated; nil when the field is missing.
    public var value: String?
    public var reason: String

    public var description: String {
        var s = "cannot decode"
        if let object { s += " \(object)" }
        s += ": field \(field.isEmpty ? "<root>" : field)"
        if let value { s += " = \(value)" }
        return s + ": \(reason)"
    }
}

/// JSON decoding whose errors name the object, the field and the value.
public enum KubeDecoding {
    /// Decodes `T` (an object, a list or a watch event) from API JSON.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(KubeDecodingError) -> T {
        do {
            return try decode(type, from: data, decoder: JSONDecoder())
        } catch let e as KubeDecodingError {
            throw e
        } catch {
            throw KubeDecodingError(object: nil, field: "", value: nil, reason: "\(error)")
        }
    }

    /// Decodes `T`, turning a DecodingError into a KubeDecodingError that names the object.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, decoder: JSONDecoder) throws -> T {
        do {
            return try decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw describe(error, in: data)
        }
    }

    public static func describe(_ error: DecodingError, in data: Data) -> KubeDecodingError {
        let (path, reason): ([any CodingKey], String) = switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): (c.codingPath, c.debugDescription)
        case .keyNotFound(let k, let c): (c.codingPath + [k], "required field is missing")
        @unknown default: ([], "\(error)")
        }
        let root = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        // Walk down the path; the deepest node that has `metadata` is the object.
        var node: Any? = root
        var objectName: String?
        var fieldParts: [String] = []
        for key in path {
            if let dict = node as? [String: Any], let meta = dict["metadata"] as? [String: Any], let name = meta["name"] as? String {
                objectName = (meta["namespace"] as? String).map { "\($0)/\(name)" } ?? name
                fieldParts = []
            }
            if let i = key.intValue {
                fieldParts.append("[\(i)]")
                node = (node as? [Any]).flatMap { i < $0.count ? $0[i] : nil }
            } else {
                fieldParts.append((fieldParts.isEmpty ? "" : ".") + key.stringValue)
                node = (node as? [String: Any])?[key.stringValue]
            }
        }
        var value: String?
        if let text = node as? String {
            value = text
        } else if let node {
            if let d = try? JSONSerialization.data(withJSONObject: node, options: [.fragmentsAllowed, .sortedKeys]) {
                let s = String(decoding: d, as: UTF8.self)
                value = s.count > 80 ? String(s.prefix(77)) + "..." : s
            }
        }
        return KubeDecodingError(object: objectName, field: fieldParts.joined(), value: value, reason: reason)
    }
}
