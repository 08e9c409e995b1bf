import Foundation
import KubeModels

/// Reads Services, EndpointSlices and Nodes from Kubernetes YAML or JSON: files or folders
/// (searched recursively for *.yaml, *.yml, *.json), single or multi-document, `kind: List`
/// (what `kubectl get svc,endpointslices -A -o yaml` prints) and typed lists (`ServiceList`).
/// It only reads and decodes, with the same models and error paths as the API client; what
/// the objects mean (bad addresses, ports, annotations) is ProxyCore's business, and it never
/// talks to a cluster.
public enum ManifestLoader {
    static let extensions: Set<String> = ["yaml", "yml", "json"]

    /// What stands for standard input among the paths (`-`, or `/dev/stdin` as shells pass it).
    public static let standardInput: Set<String> = ["-", "/dev/stdin"]

    /// Loads every manifest under `paths` (`-`: standard input). An object that cannot be
    /// read is skipped and named in `Manifests.skipped`; everything else is kept. Throws, with
    /// every such error, when a path cannot be read or a file is not YAML or JSON at all:
    /// then nothing is returned, so a caller never acts on a file it could not read.
    public static func load(paths: [String]) throws(ManifestErrors) -> Manifests {
        var errors: [ManifestError] = []
        var reader = Reader()
        var stdinRead = false
        for file in files(paths, errors: &errors) {
            if standardInput.contains(file) {
                guard !stdinRead else { continue }
                stdinRead = true
                let data = FileHandle.standardInput.readDataToEndOfFile()
                let text = String(decoding: data, as: UTF8.self)
                let json = text.utf8.first { !($0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09) }.map { $0 == 0x7b || $0 == 0x5b } ?? false
                reader.read(text, file: "<stdin>", json: json, errors: &errors)
                continue
            }
            guard let data = FileManager.default.contents(atPath: file) else {
                errors.append(ManifestError(location: ManifestLocation(file: file, document: 1), reason: "cannot read the file"))
                continue
            }
            reader.read(String(decoding: data, as: UTF8.self), file: file, errors: &errors)
        }
        if !errors.isEmpty { throw ManifestErrors(errors: errors) }
        return reader.manifests
    }

    /// Parses one file's text; `file` names it in errors (its extension picks JSON or YAML).
    public static func parse(_ text: String, file: String) throws(ManifestErrors) -> Manifests {
        var errors: [ManifestError] = []
        var reader = Reader()
        reader.read(text, file: file, errors: &errors)
        if !errors.isEmpty { throw ManifestErrors(errors: errors) }
        return reader.manifests
    }

    /// The manifest files under `paths` (what `load` reads), each folder's files in name
    /// order; a file given by name is read whatever its extension. Paths that do not exist
    /// are left out.
    public static func files(_ paths: [String]) -> [String] {
        var errors: [ManifestError] = []
        return files(paths, errors: &errors)
    }

    /// The manifest files under `paths`, each folder's files in name order; a file given
    /// by name is read whatever its extension.
    static func files(_ paths: [String], errors: inout [ManifestError]) -> [String] {
        var out: [String] = []
        let fm = FileManager.default
        for path in paths {
            if standardInput.contains(path) {
                out.append(path)
                continue
            }
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
                errors.append(ManifestError(location: ManifestLocation(file: path, document: 1), reason: "no such file or directory"))
                continue
            }
            guard isDir.boolValue else {
                out.append(path)
                continue
            }
            guard let walker = fm.enumerator(atPath: path) else { continue }
            var found: [String] = []
            while let rel = walker.nextObject() as? String {
                let full = (path as NSString).appendingPathComponent(rel)
                var sub: ObjCBool = false
                if extensions.contains((rel as NSString).pathExtension.lowercased()),
                   fm.fileExists(atPath: full, isDirectory: &sub), !sub.boolValue {
                    found.append(full)
                }
            }
            out += found.sorted()
        }
        return out
    }
}

/// Accumulates objects across files; a later object with the same kind, namespace and name
/// replaces an earlier one (as a later `kubectl apply` would), with a note.
struct Reader {
    private var services: [ObjectKey: (Service, ManifestLocation)] = [:]
    private var slices: [ObjectKey: (EndpointSlice, ManifestLocation)] = [:]
    private var nodes: [ObjectKey: (Node, ManifestLocation)] = [:]
    private var notes: [ManifestNote] = []
    /// Objects that could not be read: skipped, the rest kept.
    private var skipped: [ManifestError] = []

    var manifests: Manifests {
        Manifests(services: services.sorted { $0.key < $1.key }.map(\.value.0),
                  endpointSlices: slices.sorted { $0.key < $1.key }.map(\.value.0),
                  nodes: nodes.sorted { $0.key < $1.key }.map(\.value.0),
                  notes: notes.sorted { $0.location < $1.location },
                  skipped: skipped,
                  locations: locations)
    }

    /// Where each object kept came from.
    private var locations: [ManifestObject: ManifestLocation] {
        var out: [ManifestObject: ManifestLocation] = [:]
        for (k, v) in services { out[ManifestObject(kind: "Service", key: k)] = v.1 }
        for (k, v) in slices { out[ManifestObject(kind: "EndpointSlice", key: k)] = v.1 }
        for (k, v) in nodes { out[ManifestObject(kind: "Node", key: k)] = v.1 }
        return out
    }

    /// `json`: the text is JSON (default: when the file's name ends in .json).
    mutating func read(_ text: String, file: String, json: Bool? = nil, errors: inout [ManifestError]) {
        for (index, document) in Documents.split(text, file: file, json: json, errors: &errors).enumerated() {
            let location = ManifestLocation(file: file, document: index + 1)
            // An empty document (between two `---`) composes as null.
            guard let document, !(document is NSNull) else { continue }
            var problems: [ManifestError] = []
            add(document, at: location, errors: &problems)
            skipped += problems
        }
    }

    private mutating func add(_ document: Any, at location: ManifestLocation, errors: inout [ManifestError]) {
        guard let object = document as? [String: Any] else {
            errors.append(ManifestError(location: location, reason: "the document is not a Kubernetes object"))
            return
        }
        guard let kind = object["kind"] as? String, !kind.isEmpty else {
            errors.append(ManifestError(location: location, field: "kind", reason: "required field is missing"))
            return
        }
        guard kind.hasSuffix("List") else {
            addObject(object, kind: kind, at: location, errors: &errors)
            return
        }
        guard let items = object["items"] as? [Any] else {
            if object["items"] is NSNull || object["items"] == nil { return }
            errors.append(ManifestError(location: location, field: "items", reason: "expected a list of objects"))
            return
        }
        // A typed list (ServiceList, as the API serves it) leaves out its items' kind.
        let itemKind = kind == "List" ? nil : String(kind.dropLast(4))
        for (i, item) in items.enumerated() {
            var here = location
            here.item = i
            guard let dict = item as? [String: Any] else {
                errors.append(ManifestError(location: here, reason: "the item is not a Kubernetes object"))
                continue
            }
            guard let k = (dict["kind"] as? String) ?? itemKind, !k.isEmpty else {
                errors.append(ManifestError(location: here, field: "kind", reason: "required field is missing"))
                continue
            }
            addObject(dict, kind: k, at: here, errors: &errors)
        }
    }

    private mutating func addObject(_ object: [String: Any], kind: String, at location: ManifestLocation,
                                    errors: inout [ManifestError]) {
        let apiVersion = object["apiVersion"] as? String
        switch kind {
        case "Service":
            guard accepts(apiVersion, "v1", kind, at: location) else { return }
            if let s: Service = decode(object, kind: kind, at: location, namespaced: true, errors: &errors) {
                Self.insert(s, into: &services, notes: &notes, kind: kind, at: location)
            }
        case "EndpointSlice":
            guard accepts(apiVersion, "discovery.k8s.io/v1", kind, at: location) else { return }
            if let s: EndpointSlice = decode(object, kind: kind, at: location, namespaced: true, errors: &errors) {
                Self.insert(s, into: &slices, notes: &notes, kind: kind, at: location)
            }
        case "Node":
            guard accepts(apiVersion, "v1", kind, at: location) else { return }
            if let n: Node = decode(object, kind: kind, at: location, namespaced: false, errors: &errors) {
                Self.insert(n, into: &nodes, notes: &notes, kind: kind, at: location)
            }
        default:
            let name = ((object["metadata"] as? [String: Any])?["name"] as? String).map { " \($0)" } ?? ""
            notes.append(ManifestNote(location: location, message: "skipped \(kind)\(name): not a kind Sluice reads"))
        }
    }

    /// Another version of a kind Sluice reads has another shape (EndpointSlice v1beta1
    /// had `topology`): skipped with a note rather than misread.
    private mutating func accepts(_ apiVersion: String?, _ expected: String, _ kind: String, at location: ManifestLocation) -> Bool {
        guard let apiVersion, apiVersion != expected else { return true }
        notes.append(ManifestNote(location: location, message: "skipped \(kind) of apiVersion \(apiVersion): Sluice reads \(expected)"))
        return false
    }

    private func decode<T: KubeResource>(_ object: [String: Any], kind: String, at location: ManifestLocation,
                                         namespaced: Bool, errors: inout [ManifestError]) -> T? {
        var object = object
        // kubectl places objects without a namespace in "default".
        if namespaced, var meta = object["metadata"] as? [String: Any], meta["namespace"] == nil {
            meta["namespace"] = "default"
            object["metadata"] = meta
        }
        let meta = object["metadata"] as? [String: Any]
        let ref = (meta?["name"] as? String).map { name in
            ManifestObject(kind: kind, key: ObjectKey(namespace: namespaced ? (meta?["namespace"] as? String ?? "default") : "", name: name))
        }
        let data: Data
        do {
            data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        } catch {
            errors.append(ManifestError(location: location, object: kind, reason: "not representable as JSON: \(error)", ref: ref))
            return nil
        }
        do {
            let decoded = try KubeDecoding.decode(T.self, from: data)
            guard !decoded.metadata.name.isEmpty else {
                errors.append(ManifestError(location: location, object: kind, field: "metadata.name", reason: "required field is missing"))
                return nil
            }
            return decoded
        } catch {
            errors.append(ManifestError(location: location, object: error.object.map { "\(kind) \($0)" } ?? kind,
                                        field: error.field, value: error.value, reason: error.reason, ref: ref))
            return nil
        }
    }

    private static func insert<T: KubeResource>(_ object: T, into store: inout [ObjectKey: (T, ManifestLocation)],
                                                notes: inout [ManifestNote], kind: String, at location: ManifestLocation) {
        if let (_, earlier) = store[object.key] {
            notes.append(ManifestNote(location: location, message: "\(kind) \(object.key) replaces the one at \(earlier)"))
        }
        store[object.key] = (object, location)
    }
}
