import Agent
import Foundation
import KubeModels
import NetworkTypes
import Testing

/// 2023-11-14T22:13:20Z.
let t0 = Date(timeIntervalSince1970: 1_700_000_000)

func node(deleting: Bool = false, taints: [Taint] = []) -> Node {
    Node(metadata: ObjectMeta(name: "node-a", deletionTimestamp: deleting ? "2023-11-14T22:00:00Z" : nil),
         spec: NodeSpec(taints: taints))
}

@Suite("Proxy health: kube-proxy's rule, with an injected clock")
struct ProxyHealthTests {
    @Test("unhealthy exactly when a queued update waits 2 × the sync period without a successful sync")
    func timeout() {
        let clock = ManualAgentClock(wall: t0)
        let health = ProxyHealth(families: [.v4], syncPeriod: .seconds(30), clock: clock)
        #expect(health.timeout == .seconds(60))
        #expect(health.isHealthy, "healthy before the loop starts")
        health.queuedUpdate()
        clock.advance(by: .seconds(600))
        #expect(health.isHealthy, "kube-proxy ignores queued updates until the sync loop has started")

        health.syncLoopStarted()
        #expect(health.isHealthy)
        clock.advance(by: .seconds(10))
        health.queuedUpdate()
        clock.advance(by: .seconds(30))
        health.queuedUpdate()  // only the oldest waiting update counts
        clock.advance(by: .milliseconds(29_999))
        #expect(health.isHealthy, "59.999 s after the first queued update")
        clock.advance(by: .milliseconds(1))
        #expect(!health.isHealthy, "60 s after the first queued update")

        health.updated()
        #expect(health.isHealthy, "a successful sync clears the queue")
        clock.advance(by: .seconds(3600))
        #expect(health.isHealthy, "nothing queued: no sync needed, however long ago the last one")
    }

    @Test("a stepped wall clock neither fails nor heals the check")
    func monotonic() {
        let clock = ManualAgentClock(wall: t0)
        let health = ProxyHealth(families: [.v4], syncPeriod: .seconds(30), clock: clock)
        health.syncLoopStarted()
        health.queuedUpdate()
        clock.stepWallClock(by: 3600)
        #expect(health.isHealthy)
        clock.advance(by: .seconds(60))
        clock.stepWallClock(by: -7200)
        #expect(!health.isHealthy)
    }

    @Test("node eligibility", arguments: [
        (node(), true),
        (node(deleting: true), false),
        (node(taints: [Taint(key: "ToBeDeletedByClusterAutoscaler", value: "1700000000", effect: "NoSchedule")]), false),
        (node(taints: [Taint(key: "node.kubernetes.io/unschedulable", effect: "NoSchedule")]), true),
    ])
    func eligibility(node: Node, eligible: Bool) {
        let health = ProxyHealth(families: [.v4], syncPeriod: .seconds(30), clock: ManualAgentClock(wall: t0))
        health.nodeChanged(node)
        #expect(health.status().nodeEligible == eligible)
        #expect(health.status().healthzOK == eligible)
        #expect(health.status().healthy, "the node never affects the proxy's own health (/livez)")
    }

    @Test("a missing Node makes the node ineligible; eligible again when it comes back")
    func missingNode() {
        let health = ProxyHealth(families: [.v4], syncPeriod: .seconds(30), clock: ManualAgentClock(wall: t0))
        #expect(health.status().nodeEligible, "eligible until a Node source says otherwise")
        health.nodeChanged(nil)
        #expect(!health.status().nodeEligible)
        health.nodeChanged(node())
        #expect(health.status().nodeEligible)
    }

    @Test("JSON bodies: kube-proxy's fields, order and time format")
    func bodies() {
        let clock = ManualAgentClock(wall: t0)
        let health = ProxyHealth(families: [.v6, .v4], syncPeriod: .seconds(30), clock: clock)
        #expect(health.status().healthzJSON == """
            {"lastUpdated":"2023-11-14T22:13:20Z","currentTime":"2023-11-14T22:13:20Z","nodeEligible":true,"healthy":true}
            """, "before the loop starts: no per-family status")
        health.nodeChanged(nil)
        #expect(health.status().healthzJSON == """
            {"lastUpdated":"0001-01-01T00:00:00Z","currentTime":"2023-11-14T22:13:20Z","nodeEligible":false,"healthy":true}
            """, "not OK and never updated: Go's zero time")
        health.nodeChanged(node())

        health.syncLoopStarted()
        clock.advance(by: .milliseconds(10_250))
        #expect(health.status().healthzJSON == """
            {"lastUpdated":"2023-11-14T22:13:30.25Z","currentTime":"2023-11-14T22:13:30.25Z","nodeEligible":true,"healthy":true,\
            "status":{"IPv4":{"lastUpdated":"2023-11-14T22:13:20Z","healthy":true},"IPv6":{"lastUpdated":"2023-11-14T22:13:20Z","healthy":true}}}
            """)
        health.queuedUpdate()
        clock.advance(by: .seconds(60))
        let late = health.status()
        #expect(late.healthzJSON == """
            {"lastUpdated":"2023-11-14T22:13:20Z","currentTime":"2023-11-14T22:14:30.25Z","nodeEligible":true,"healthy":false,\
            "status":{"IPv4":{"lastUpdated":"2023-11-14T22:13:20Z","healthy":false},"IPv6":{"lastUpdated":"2023-11-14T22:13:20Z","healthy":false}}}
            """)
        #expect(late.livezJSON == """
            {"lastUpdated":"2023-11-14T22:13:20Z","currentTime":"2023-11-14T22:14:30.25Z","healthy":false,\
            "status":{"IPv4":{"lastUpdated":"2023-11-14T22:13:20Z","healthy":false},"IPv6":{"lastUpdated":"2023-11-14T22:13:20Z","healthy":false}}}
            """)
    }
}

@Suite("RFC 3339 as Kubernetes writes it and Go marshals it")
struct RFC3339Tests {
    @Test("format", arguments: [
        (0.0, "1970-01-01T00:00:00Z"),
        (1_700_000_000, "2023-11-14T22:13:20Z"),
        (1_700_000_000.5, "2023-11-14T22:13:20.5Z"),
        (1_700_000_000.000_001, "2023-11-14T22:13:20.000001Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (-1, "1969-12-31T23:59:59Z"),
        (4_102_444_799, "2099-12-31T23:59:59Z"),
    ])
    func format(seconds: Double, text: String) {
        #expect(RFC3339.format(Date(timeIntervalSince1970: seconds)) == text)
    }

    @Test("parse", arguments: [
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T22:13:20.123456789Z", 1_700_000_000.123456789),
        ("2023-11-14t22:13:20z", 1_700_000_000.0),
        ("2023-11-15T00:13:20+02:00", 1_700_000_000.0),
        ("2023-11-14T20:13:20-02:00", 1_700_000_000.0),
        ("2000-02-29T00:00:00Z", 951_782_400.0),
    ])
    func parse(text: String, seconds: Double) throws {
        let date = try #require(RFC3339.parse(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 1e-6)
    }

    @Test("not RFC 3339", arguments: [
        "", "2023-11-14", "2023-11-14T22:13:20", "2023-11-14 22:13:20Z", "2023-13-14T22:13:20Z", "2023-02-29T00:00:00Z",
        "2023-11-14T24:00:00Z", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20+0200", "2023-11-14T22:13:20Zjunk",
        "20231-11-14T22:13:20Z", "2023-11-14T22:13:20+24:00",
    ])
    func invalid(text: String) {
        #expect(RFC3339.parse(text) == nil)
    }
}
