import Agent
import Foundation
import KubeModels
import Logging
import Metrics
import MetricsTestKit
import NetworkTypes
import NIOCore
import NIOPosix
import ServiceLifecycleTestKit
import Testing

let loopback = BindAddress("127.0.0.1:0")!
let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

@Suite("The healthz server: /healthz and /livez over HTTP")
struct HealthzServerTests {
    @Test("status, body and headers of /healthz and /livez, flipping to 503 after 2 × the sync period")
    func answers() async throws {
        let clock = ManualAgentClock(wall: t0)
        let health = ProxyHealth(families: [.v4], syncPeriod: .seconds(30), clock: clock)
        let testMetrics = TestMetrics()
        let metrics = ProxyMetrics(families: [.v4], factory: testMetrics, clock: clock)
        health.syncLoopStarted()
        health.queuedUpdate()
        clock.advance(by: .seconds(59))

        try await withRunning({ HealthzServer(address: loopback, health: health, metrics: metrics, logger: quiet, onListening: $0) }) { address in
            let ok = try await get(address, "/healthz")
            #expect(ok.statusLine == "HTTP/1.1 200 OK")
            #expect(ok.stableHeaders == ["Content-Type: application/json", "X-Content-Type-Options: nosniff",
                                         "Content-Length: \(ok.body.utf8.count)", "Connection: close"])
            #expect(ok.body == """
                {"lastUpdated":"2023-11-14T22:14:19Z","currentTime":"2023-11-14T22:14:19Z","nodeEligible":true,"healthy":true,\
                "status":{"IPv4":{"lastUpdated":"2023-11-14T22:13:20Z","healthy":true}}}
                """)

            clock.advance(by: .seconds(1))
            let late = try await get(address, "/healthz")
            #expect(late.statusLine == "HTTP/1.1 503 Service Unavailable")
            #expect(late.stableHeaders == ["Content-Type: application/json", "X-Content-Type-Options: nosniff",
                                           "Content-Length: \(late.body.utf8.count)", "Connection: close"])
            #expect(late.body == """
                {"lastUpdated":"2023-11-14T22:13:20Z","currentTime":"2023-11-14T22:14:20Z","nodeEligible":true,"healthy":false,\
                "status":{"IPv4":{"lastUpdated":"2023-11-14T22:13:20Z","healthy":false}}}
                """)
            let lateLivez = try await get(address, "/livez?verbose=1")
            #expect(lateLivez.status == 503)
            #expect(lateLivez.body == """
                {"lastUpdated":"2023-11-14T22:13:20Z","currentTime":"2023-11-14T22:14:20Z","healthy":false,\
                "status":{"IPv4":{"lastUpdated":"2023-11-14T22:13:20Z","healthy":false}}}
                """)

            // The sync succeeds; then the autoscaler taints the node: /healthz drains, /livez does not.
            health.updated()
            health.nodeChanged(node(taints: [Taint(key: ProxyHealth.toBeDeletedTaint, effect: "NoSchedule")]))
            let draining = try await get(address, "/healthz")
            #expect(draining.status == 503)
            #expect(draining.body == """
                {"lastUpdated":"2023-11-14T22:14:20Z","currentTime":"2023-11-14T22:14:20Z","nodeEligible":false,"healthy":true,\
                "status":{"IPv4":{"lastUpdated":"2023-11-14T22:14:20Z","healthy":true}}}
                """)
            let live = try await get(address, "/livez")
            #expect(live.statusLine == "HTTP/1.1 200 OK")
            #expect(live.stableHeaders == ["Content-Type: application/json", "X-Content-Type-Options: nosniff",
                                           "Content-Length: \(live.body.utf8.count)", "Connection: close"])
            #expect(live.body == """
                {"lastUpdated":"2023-11-14T22:14:20Z","currentTime":"2023-11-14T22:14:20Z","healthy":true,\
                "status":{"IPv4":{"lastUpdated":"2023-11-14T22:14:20Z","healthy":true}}}
                """)

            let missing = try await get(address, "/healthz/extra")
            #expect(missing.statusLine == "HTTP/1.1 404 Not Found")
            #expect(missing.stableHeaders == ["Content-Type: text/plain; charset=utf-8", "X-Content-Type-Options: nosniff",
                                              "Content-Length: 19", "Connection: close"])
            #expect(missing.body == "404 page not found\n")
        }
        #expect(try testMetrics.expectCounter("kubeproxy_proxy_healthz_total", [("code", "200")]).totalValue == 1)
        #expect(try testMetrics.expectCounter("kubeproxy_proxy_healthz_total", [("code", "503")]).totalValue == 2)
        #expect(try testMetrics.expectCounter("kubeproxy_proxy_livez_total", [("code", "200")]).totalValue == 1)
        #expect(try testMetrics.expectCounter("kubeproxy_proxy_livez_total", [("code", "503")]).totalValue == 1)
    }

    @Test("keep-alive: pipelined requests on one connection, answered in order; HEAD has no body")
    func keepAlive() async throws {
        let health = ProxyHealth(families: [.v4], syncPeriod: .seconds(30), clock: ManualAgentClock(wall: t0))
        try await withRunning({ HealthzServer(address: loopback, health: health, metrics: nil, logger: quiet, onListening: $0) }) { address in
            let responses = try await exchange(address, [
                "GET /livez HTTP/1.1\r\nHost: a\r\n\r\n",
                "HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
                "POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
                "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            ])
            #expect(responses.map(\.status) == [200, 200, 200, 200])
            #expect(responses.map { $0.header("Connection") } == [nil, nil, nil, "close"])
            #expect(responses[1].body == "" && responses[1].header("Content-Length") == String(responses[3].body.utf8.count))
            #expect(responses[2].body == responses[3].body, "any method gets the answer, as kube-proxy's handler")
        }
    }

    @Test("an address in use is an error naming it, and what to do")
    func addressInUse() async throws {
        let health = ProxyHealth(families: [.v4], syncPeriod: .seconds(30))
        try await withRunning({ HealthzServer(address: loopback, health: health, metrics: nil, logger: quiet, onListening: $0) }) { address in
            let boundPort = try #require(address.port)
            let taken = try #require(BindAddress("127.0.0.1:\(boundPort)"))
            let second = HealthzServer(address: taken, health: health, metrics: nil, logger: quiet)
            let error = await #expect(throws: HTTPListenError.self) { try await second.run() }
            #expect(error?.description == "could not listen on \(taken) for the healthz server: Address already in use (errno 98); "
                + "free the port or choose another with --healthz-bind-address")
        }
    }

    @Test("graceful shutdown closes idle keep-alive connections and returns")
    func shutdownClosesIdleConnections() async throws {
        let health = ProxyHealth(families: [.v4], syncPeriod: .seconds(30))
        let (addresses, continuation) = AsyncStream.makeStream(of: SocketAddress.self)
        let server = HealthzServer(address: loopback, health: health, metrics: nil, logger: quiet, onListening: { continuation.yield($0) })
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                var iterator = addresses.makeAsyncIterator()
                let address = try #require(await iterator.next())
                // A client that keeps its connection open after one answer.
                let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(to: address) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
                try await client.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(string: "GET /livez HTTP/1.1\r\nHost: a\r\n\r\n"))
                    var received = ""
                    var iterator = inbound.makeAsyncIterator()
                    while !received.hasSuffix("}"), let chunk = try await iterator.next() { received += String(buffer: chunk) }
                    #expect(received.hasPrefix("HTTP/1.1 200 OK"))
                    trigger.triggerGracefulShutdown()
                    // The server closes the idle connection: the stream ends.
                    while try await iterator.next() != nil {}
                }
                try await group.next()
            }
        }
    }
}
