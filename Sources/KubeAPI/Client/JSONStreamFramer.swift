import KubeModels
import NIOCore

/// Splits a watch body — JSON objects back to back, cut anywhere by the transport — into
/// whole objects. It keeps only the bytes of the object being received, so memory is
/// bounded by the largest object (and by `maxObjectSize`), not by the stream.
public struct JSONStreamFramer: Sendable {
    public struct TooLarge: Error, CustomStringConvertible {
        public var limit: Int
        public var description: String { "watch stream object larger than \(limit) bytes" }
    }
    public struct Malformed: Error, CustomStringConvertible {
        public var byte: UInt8
        public var description: String { "watch stream: unexpected byte 0x\(String(byte, radix: 16)) between objects" }
    }

    public let maxObjectSize: Int
    private var buffer: [UInt8] = []
    /// How far `buffer` has been scanned, and the scanner state there.
    private var scanned = 0
    private var depth = 0
    private var inString = false
    private var escaped = false

    public init(maxObjectSize: Int = 64 << 20) {
        self.maxObjectSize = maxObjectSize
    }

    /// Feeds bytes; calls `emit` with each complete object, in order.
    public mutating func feed(_ bytes: ByteBuffer, _ emit: ([UInt8]) throws -> Void) throws {
        bytes.withUnsafeReadableBytes { buffer.append(contentsOf: $0) }
        var start = 0
        var i = scanned
        let n = buffer.count
        while i < n {
            let b = buffer[i]
            if depth == 0 {
                switch b {
                case UInt8(ascii: "{"):
                    start = i
                    depth = 1
                case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                    start = i + 1
                default:
                    throw Malformed(byte: b)
                }
            } else if inString {
                if escaped {
                    escaped = false
                } else if b == UInt8(ascii: "\\") {
                    escaped = true
                } else if b == UInt8(ascii: "\"") {
                    inString = false
                }
            } else {
                switch b {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        try emit(Array(buffer[start...i]))
                        start = i + 1
                    }
                default: break
                }
            }
            i += 1
        }
        // Keep only the unfinished object.
        if depth == 0 {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            scanned = 0
        } else {
            if start > 0 { buffer.removeFirst(start) }
            scanned = buffer.count
            if buffer.count > maxObjectSize { throw TooLarge(limit: maxObjectSize) }
        }
    }

    /// Bytes of an unfinished object, if the stream ended mid-object.
    public var pendingByteCount: Int { buffer.count }
}
