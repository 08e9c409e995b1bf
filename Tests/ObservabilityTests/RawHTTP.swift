import Agent
import Foundation
import NIOCore
import NIOPosix
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

/// One HTTP response as it came over the wire: headers in order and as spelt.
struct RawResponse: Sendable {
    var statusLine: String
    var headers: [(String, String)]
    var body: String

    var status: Int { Int(statusLine.split(separator: " ")[1]) ?? 0 }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// The headers without `Date` (its value is the time of the answer), after checking that it
    /// is an IMF-fixdate.
    var stableHeaders: [String] {
        if let date = header("Date") {
            #expect(date.range(of: #"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$"#,
                                options: .regularExpression) != nil, "Date: \(date)")
        } else {
            Issue.record("no Date header")
        }
        return headers.filter { $0.0 != "Date" }.map { "\($0.0): \($0.1)" }
    }
}

/// Sends `requests` (raw HTTP/1.1 text, one request each) on one TCP connection to `address`,
/// reads until the server closes it, and splits what came back into responses by
/// Content-Length (none after a HEAD).
func exchange(_ address: SocketAddress, _ requests: [String]) async throws -> [RawResponse] {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(to: address) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
    var received: [UInt8] = []
    try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: requests.joined()))
        for try await chunk in inbound { received += chunk.readableBytesView }
    }
    var responses: [RawResponse] = []
    var rest = received[...]
    while !rest.isEmpty {
        guard let end = rest.firstRange(of: Array("\r\n\r\n".utf8)) else {
            Issue.record("incomplete response: \(String(decoding: rest, as: UTF8.self))")
            break
        }
        let lines = String(decoding: rest[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let headers = lines.dropFirst().map { line -> (String, String) in
            let colon = line.firstIndex(of: ":") ?? line.endIndex
            return (String(line[..<colon]), line[colon...].dropFirst().trimmingCharacters(in: .whitespaces))
        }
        let head = responses.count < requests.count && requests[responses.count].hasPrefix("HEAD ")
        let length = head ? 0 : Int(headers.first { $0.0.lowercased() == "content-length" }?.1 ?? "0") ?? 0
        let bodyEnd = min(end.upperBound + length, rest.endIndex)
        responses.append(RawResponse(statusLine: lines[0], headers: headers,
                                     body: String(decoding: rest[end.upperBound..<bodyEnd], as: UTF8.self)))
        rest = rest[bodyEnd...]
    }
    return responses
}

/// One GET with `Connection: close`.
func get(_ address: SocketAddress, _ path: String, method: String = "GET") async throws -> RawResponse {
    let responses = try await exchange(address, ["\(method) \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"])
    try #require(responses.count == 1)
    return responses[0]
}

/// Runs `service` until `body` returns, then shuts it down gracefully (as a `ServiceGroup`
/// does on SIGTERM) and checks that `run()` returned without error.
func withService(_ service: some Service, _ body: () async throws -> Void) async throws {
    try await testGracefulShutdown { trigger in
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            try await body()
            trigger.triggerGracefulShutdown()
            try await group.next()
        }
    }
}

/// As `withService`, for a server on one address: `body` gets the address it bound once it listens.
func withRunning<S: Service>(_ make: (@escaping @Sendable (SocketAddress) -> Void) -> S,
                             _ body: (SocketAddress) async throws -> Void) async throws {
    let (addresses, continuation) = AsyncStream.makeStream(of: SocketAddress.self)
    let service = make { continuation.yield($0) }
    try await testGracefulShutdown { trigger in
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { continuation.finish() }
                try await service.run()
            }
            var iterator = addresses.makeAsyncIterator()
            guard let address = await iterator.next() else {
                try await group.next()  // run()'s error
                Issue.record("the server stopped before it listened")
                return
            }
            try await body(address)
            trigger.triggerGracefulShutdown()
            try await group.next()
        }
    }
}
