import Foundation
import KubeModels
import NIOCore

/// Decodes a list response (`{"kind":…,"metadata":{…},"items":[{…},…]}`) as its bytes
/// arrive: each item is decoded as soon as it is complete and its bytes dropped, so a page
/// costs the decoded objects plus one item's JSON — not the whole body and the decoder's
/// index of it. Top-level fields other than `metadata` and `items` are skipped.
struct ListStreamDecoder<Object: KubeResource> {
    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    private let decoder: JSONDecoder
    private let maxItemSize: Int
    private(set) var items: [Object] = []
    private var metadataBytes: [UInt8] = []

    // Scanner state, carried across chunks.
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var keyBytes: [UInt8] = []
    private var lastString: [UInt8]?
    private var currentKey: [UInt8]?
    private var item: [UInt8] = []
    private var inItem = false
    private var capturingMetadata = false
    private var finished = false

    private static var itemsKey: [UInt8] { Array("items".utf8) }
    private static var metadataKey: [UInt8] { Array("metadata".utf8) }

    init(decoder: JSONDecoder, maxItemSize: Int = 64 << 20) {
        self.decoder = decoder
        self.maxItemSize = maxItemSize
    }

    mutating func feed(_ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { raw in
            for b in raw { try step(b) }
        }
    }

    private mutating func step(_ b: UInt8) throws {
        if inItem { item.append(b) }
        if capturingMetadata { metadataBytes.append(b) }
        if inString {
            if escaped {
                escaped = false
            } else if b == UInt8(ascii: "\\") {
                escaped = true
            } else if b == UInt8(ascii: "\"") {
                inString = false
                if depth == 1 { lastString = keyBytes }
            } else if depth == 1 {
                keyBytes.append(b)
            }
            return
        }
        switch b {
        case UInt8(ascii: "\""):
            inString = true
            if depth == 1 { keyBytes.removeAll(keepingCapacity: true) }
        case UInt8(ascii: ":") where depth == 1:
            currentKey = lastString
            if currentKey == Self.metadataKey { capturingMetadata = true }
        case UInt8(ascii: ",") where depth == 1, UInt8(ascii: "}") where depth == 1:
            if capturingMetadata {
                capturingMetadata = false
                metadataBytes.removeLast()  // the separator just appended
            }
            currentKey = nil
            if b == UInt8(ascii: "}") {
                depth = 0
                finished = true
            }
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            if b == UInt8(ascii: "{"), depth == 2, currentKey == Self.itemsKey {
                inItem = true
                item.removeAll(keepingCapacity: true)
                item.append(b)
            }
            depth += 1
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            depth -= 1
            if depth == 2, inItem {
                inItem = false
                try decodeItem()
            }
            if depth < 0 { throw Malformed(description: "list response: unbalanced brackets") }
        default:
            if !finished, depth == 0, b != UInt8(ascii: " "), b != UInt8(ascii: "\n"), b != UInt8(ascii: "\r"), b != UInt8(ascii: "\t") {
                throw Malformed(description: "list response: unexpected byte 0x\(String(b, radix: 16)) outside the object")
            }
        }
        if inItem, item.count > maxItemSize {
            throw Malformed(description: "list response: an item is larger than \(maxItemSize) bytes")
        }
    }

    private mutating func decodeItem() throws {
        let object = try item.withUnsafeBytes { raw in
            try KubeDecoding.decode(Object.self, from: Data(raw), decoder: decoder)
        }
        items.append(object)
    }

    /// The page, once the body has ended.
    mutating func finish() throws -> ObjectList<Object> {
        guard finished, depth == 0, !inString else {
            throw Malformed(description: "list response ended before its closing brace")
        }
        var metadata = ListMeta()
        if !metadataBytes.isEmpty {
            metadata = try KubeDecoding.decode(ListMeta.self, from: Data(metadataBytes), decoder: decoder)
        }
        return ObjectList(metadata: metadata, items: items)
    }
}
