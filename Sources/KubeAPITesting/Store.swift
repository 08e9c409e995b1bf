import Foundation
import KubeAPI
import KubeModels
import NIOCore

/// One object as the simulator keeps it: the typed value, its pre-encoded JSON (without
/// kind/apiVersion, as list items are served) and what selectors look at.
struct StoredObject: Sendable {
    var object: any KubeResource
    var key: ObjectKey
    var labels: [String: String]
    var fields: [String: String]
    var json: ByteBuffer
    var resourceVersion: Int

    init<Object: KubeResource>(_ object: Object, resourceVersion: Int, encoder: JSONEncoder) throws {
        self.object = object
        self.key = object.key
        self.labels = object.metadata.labels ?? [:]
        var fields: [String: String] = [:]
        for f in Object.resource.selectableFields { fields[f] = object.fieldValue(f) }
        self.fields = fields
        self.json = ByteBuffer(bytes: try encoder.encode(object))
        self.resourceVersion = resourceVersion
    }

    func matches(namespace: String?, labels selector: LabelSelector?, fields fieldSelector: FieldSelector?) -> Bool {
        if let namespace, key.namespace != namespace { return false }
        if let selector, !selector.matches(labels) { return false }
        if let fieldSelector {
            for r in fieldSelector.requirements {
                switch r {
                case .equals(let f, let v): if fields[f] != v { return false }
                case .notEquals(let f, let v): if fields[f] == nil || fields[f] == v { return false }
                }
            }
        }
        return true
    }
}

enum WatchEventType: String, Sendable {
    case added = "ADDED"
    case modified = "MODIFIED"
    case deleted = "DELETED"
}

struct HistoryEvent: Sendable {
    var resourceVersion: Int
    var plural: String
    var type: WatchEventType
    var object: StoredObject
    var previous: StoredObject?
}

/// Byte-level JSON assembly of responses: the stored JSON is spliced, never re-encoded.
enum Wire {
    static func objectWithKind(_ stored: StoredObject, _ d: ResourceDescriptor, into buf: inout ByteBuffer) {
        buf.writeString(#"{"kind":"\#(d.kind)","apiVersion":"\#(d.apiVersion)","#)
        var body = stored.json
        body.moveReaderIndex(forwardBy: 1)
        buf.writeBuffer(&body)
    }

    static func event(_ type: String, _ stored: StoredObject, _ d: ResourceDescriptor) -> ByteBuffer {
        var buf = ByteBuffer()
        buf.reserveCapacity(stored.json.readableBytes + 80)
        buf.writeString(#"{"type":"\#(type)","object":"#)
        objectWithKind(stored, d, into: &buf)
        buf.writeString("}\n")
        return buf
    }

    static func bookmark(_ rv: Int, _ d: ResourceDescriptor) -> ByteBuffer {
        ByteBuffer(string: #"{"type":"BOOKMARK","object":{"kind":"\#(d.kind)","apiVersion":"\#(d.apiVersion)","metadata":{"resourceVersion":"\#(rv)"}}}"# + "\n")
    }

    static func errorEvent(_ status: Status) -> ByteBuffer {
        var buf = ByteBuffer(string: #"{"type":"ERROR","object":"#)
        buf.writeBytes(encode(status))
        buf.writeString("}\n")
        return buf
    }

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        (try? Array(JSONEncoder().encode(value))) ?? Array("{}".utf8)
    }

    static func list(_ d: ResourceDescriptor, rv: Int, continueToken: String?, remaining: Int?, items: ArraySlice<StoredObject>) -> ByteBuffer {
        var buf = ByteBuffer()
        buf.reserveCapacity(items.reduce(128) { $0 + $1.json.readableBytes + 1 })
        buf.writeString(#"{"kind":"\#(d.listKind)","apiVersion":"\#(d.apiVersion)","metadata":{"resourceVersion":"\#(rv)""#)
        if let continueToken { buf.writeString(#","continue":"\#(continueToken)""#) }
        if let remaining { buf.writeString(#","remainingItemCount":\#(remaining)"#) }
        buf.writeString(#"},"items":["#)
        var first = true
        for item in items {
            if !first { buf.writeString(",") }
            first = false
            var j = item.json
            buf.writeBuffer(&j)
        }
        buf.writeString("]}")
        return buf
    }
}
