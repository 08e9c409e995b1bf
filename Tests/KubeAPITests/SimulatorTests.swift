import Foundation
import KubeAPI
import KubeAPITesting
import KubeModels
import Testing

/// The simulator against the client's own request functions: the server semantics the
/// Reflector relies on.
@Suite(.timeLimit(.minutes(1))) struct SimulatorSemantics {
    @Test func writesBumpResourceVersionAndStampObjects() async throws {
        try await withSimulator { sim in
            let rv0 = sim.resourceVersion
            let a = try sim.create(service("shop", "web"))
            #expect(a.metadata.resourceVersion == String(rv0 + 1))
            #expect(a.metadata.uid?.isEmpty == false)
            #expect(a.metadata.creationTimestamp?.hasSuffix("Z") == true)
            var b = a
            b.spec.ports[0].port = 81
            let b2 = try sim.update(b)
            #expect(b2.metadata.resourceVersion == String(rv0 + 2))
            #expect(b2.metadata.uid == a.metadata.uid)
            #expect(throws: SimulatorError.self) { try sim.create(service("shop", "web")) }
            try sim.delete(Service.self, namespace: "shop", name: "web")
            #expect(sim.resourceVersion == rv0 + 3)
            #expect(sim.objects(Service.self).isEmpty)
        }
    }

    @Test func pagedListIsOneConsistentSnapshot() async throws {
        try await withSimulator { sim in
            for i in 0..<25 { try sim.create(service("ns", String(format: "svc-%02d", i))) }
            let rv = sim.resourceVersion
            let client = try KubeClient(config: sim.clusterConfig(), logger: quietLogger)
            defer { Task { try await client.shutdown() } }
            let p1 = try await client.list(Service.self, ListOptions(limit: 10))
            #expect(p1.items.map(\.metadata.name) == (0..<10).map { String(format: "svc-%02d", $0) })
            #expect(p1.metadata.resourceVersion == String(rv))
            #expect(p1.metadata.remainingItemCount == 15)
            let token = try #require(p1.metadata.continue)
            // A write between pages does not show up in the rest of this list.
            try sim.delete(Service.self, namespace: "ns", name: "svc-20")
            let p2 = try await client.list(Service.self, ListOptions(limit: 10, continueToken: token))
            let token2: String = try #require(p2.metadata.continue)
            let p3 = try await client.list(Service.self, ListOptions(limit: 10, continueToken: token2))
            #expect(p3.metadata.continue == nil)
            #expect((p1.items + p2.items + p3.items).map(\.metadata.name) == (0..<25).map { String(format: "svc-%02d", $0) })
            #expect(p3.metadata.resourceVersion == String(rv))
            // Expired continue token: 410 as an HTTP status with a Status body.
            let q1 = try await client.list(Service.self, ListOptions(limit: 10))
            sim.compact()
            await #expect {
                _ = try await client.list(Service.self, ListOptions(limit: 10, continueToken: q1.metadata.continue))
            } throws: { e in
                guard case .status(let s, _) = e as? KubeAPIError else { return false }
                return s.code == 410 && s.reason == "Expired" && s.kind == "Status"
            }
            try await client.shutdown()
        }
    }

    @Test func oneShotListAllFollowsContinueTokens() async throws {
        try await withSimulator { sim in
            for i in 0..<25 { try sim.create(service("ns", "s\(i)", ip: i == 3 ? "None" : "10.0.0.\(i)")) }
            let client = try KubeClient(config: sim.clusterConfig(), logger: quietLogger)
            let options = ReflectorOptions<Service>.services()
            let (objects, rv) = try await client.listAll(Service.self, ListOptions(labelSelector: options.labelSelector, fieldSelector: options.fieldSelector, limit: 7), where: options.matches)
            #expect(objects == expected(sim, options))
            #expect(objects.count == 24)
            #expect(rv == String(sim.resourceVersion))
            #expect(sim.requests.map { $0.query["limit"] } == ["7", "7", "7", "7"])
            try await client.shutdown()
        }
    }

    @Test func labelAndFieldSelectors() async throws {
        try await withSimulator { sim in
            try sim.create(service("a", "plain"))
            try sim.create(service("a", "headless", ip: "None"))
            try sim.create(service("b", "other-proxy", labels: ["service.kubernetes.io/service-proxy-name": "x"]))
            try sim.create(service("b", "ours", labels: ["service.kubernetes.io/service-proxy-name": "sluice"]))
            let client = try KubeClient(config: sim.clusterConfig(), logger: quietLogger)
            let def = ReflectorOptions<Service>.services()
            let l1 = try await client.list(Service.self, ListOptions(labelSelector: def.labelSelector, fieldSelector: def.fieldSelector))
            #expect(l1.items.map(\.key.description) == ["a/plain"])
            let ours = ReflectorOptions<Service>.services(proxyName: "sluice")
            let l2 = try await client.list(Service.self, ListOptions(labelSelector: ours.labelSelector, fieldSelector: ours.fieldSelector))
            #expect(l2.items.map(\.key.description) == ["b/ours"])
            let l3 = try await client.list(Service.self, ListOptions(namespace: "b"))
            #expect(l3.items.map(\.key.description) == ["b/other-proxy", "b/ours"])
            await #expect {
                _ = try await client.list(Service.self, ListOptions(fieldSelector: FieldSelector([.equals("spec.bogus", "1")])))
            } throws: { ($0 as? KubeAPIError)?.code == 400 }
            try await client.shutdown()
        }
    }

    @Test func watchResumesFromResourceVersionAndExpiresWhenCompacted() async throws {
        try await withSimulator(SimulatorOptions(historyLimit: 5)) { sim in
            let client = try KubeClient(config: sim.clusterConfig(), logger: quietLogger)
            try sim.create(service("a", "one"))
            let rv = sim.resourceVersion
            try sim.create(service("a", "two"))
            try sim.delete(Service.self, namespace: "a", name: "one")
            // Events after rv, then the server's timeout ends the stream.
            var seen: [String] = []
            try await client.watch(Service.self, WatchOptions(resourceVersion: String(rv), timeoutSeconds: 1)) { e in
                switch e {
                case .added(let s): seen.append("ADDED \(s.key) \(s.metadata.resourceVersion ?? "")")
                case .deleted(let s): seen.append("DELETED \(s.key) \(s.metadata.resourceVersion ?? "")")
                default: seen.append("\(e)")
                }
            }
            #expect(seen == ["ADDED a/two \(rv + 1)", "DELETED a/one \(rv + 2)"])
            // Push the history past its limit: rv is compacted.
            for i in 0..<6 { try sim.create(service("b", "s\(i)")) }
            var events: [WatchEvent<Service>] = []
            try await client.watch(Service.self, WatchOptions(resourceVersion: String(rv), timeoutSeconds: 5)) { events.append($0) }
            guard events.count == 1, case .error(let status) = events[0] else {
                Issue.record("expected one ERROR event, got \(events)")
                return
            }
            #expect(status.code == 410 && status.reason == "Expired")
            sim.setExpiredWatchResponse(.httpStatus)
            await #expect {
                try await client.watch(Service.self, WatchOptions(resourceVersion: String(rv), timeoutSeconds: 5)) { _ in }
            } throws: { ($0 as? KubeAPIError)?.isExpired == true }
            try await client.shutdown()
        }
    }

    @Test func watchFromAFutureVersionWaitsForIt() async throws {
        try await withSimulator { sim in
            let client = try KubeClient(config: sim.clusterConfig(), logger: quietLogger)
            let future = sim.resourceVersion + 2
            let watch = Task {
                var names: [String] = []
                try await client.watch(Service.self, WatchOptions(resourceVersion: String(future), timeoutSeconds: 1)) { e in
                    if case .added(let s) = e { names.append(s.metadata.name) }
                }
                return names
            }
            try await eventually("watch open") { sim.openWatchCount == 1 }
            for name in ["one", "two", "three"] { try sim.create(service("a", name)) }
            #expect(try await watch.value == ["three"])
            try await client.shutdown()
        }
    }

    @Test func bookmarksCarryOnlyTheResourceVersion() async throws {
        try await withSimulator(SimulatorOptions(bookmarkInterval: .milliseconds(100))) { sim in
            let client = try KubeClient(config: sim.clusterConfig(), logger: quietLogger)
            try sim.create(service("a", "one"))
            let rv = sim.resourceVersion
            var bookmarks: [String] = []
            try await client.watch(Service.self, WatchOptions(resourceVersion: String(rv), timeoutSeconds: 1)) { e in
                if case .bookmark(let v) = e { bookmarks.append(v) }
            }
            #expect(bookmarks.count >= 3)
            #expect(Set(bookmarks) == [String(rv)])
            try await client.shutdown()
        }
    }

    @Test func authenticationAndAuthorisation() async throws {
        let options = SimulatorOptions(
            tokens: ["t-alice": "alice", "t-bob": "bob"],
            permissions: ["alice": Permission.read("services")]
        )
        try await withSimulator(options) { sim in
            let anon = try KubeClient(config: sim.clusterConfig(), logger: quietLogger)
            await #expect { _ = try await anon.list(Service.self) } throws: { ($0 as? KubeAPIError)?.code == 401 }
            let alice = try KubeClient(config: sim.clusterConfig(credentials: .token("t-alice")), logger: quietLogger)
            _ = try await alice.list(Service.self)
            await #expect { _ = try await alice.list(EndpointSlice.self) } throws: { e in
                guard case .status(let s, _) = e as? KubeAPIError else { return false }
                return s.code == 403 && s.message == #"endpointslices is forbidden: User "alice" cannot list resource "endpointslices" in API group "discovery.k8s.io" at the cluster scope"#
            }
            #expect(sim.requests.map(\.user) == [nil, "alice", "alice"])
            try await anon.shutdown()
            try await alice.shutdown()
        }
    }

    @Test func scriptedTooManyRequestsCarriesRetryAfter() async throws {
        try await withSimulator { sim in
            let client = try KubeClient(config: sim.clusterConfig(), logger: quietLogger)
            sim.failNextRequests(1, status: 429, retryAfterSeconds: 3)
            await #expect { _ = try await client.list(Service.self) } throws: { e in
                guard case .status(let s, let ra) = e as? KubeAPIError else { return false }
                return s.code == 429 && ra == .seconds(3)
            }
            _ = try await client.list(Service.self)
            try await client.shutdown()
        }
    }

    @Test func plainHTTPToo() async throws {
        try await withSimulator(SimulatorOptions(tls: false)) { sim in
            #expect(sim.baseURL.hasPrefix("http://"))
            try sim.create(Node(metadata: ObjectMeta(name: "n1", labels: ["topology.kubernetes.io/zone": "z1"])))
            let client = try KubeClient(config: sim.clusterConfig(), logger: quietLogger)
            let nodes = try await client.list(Node.self)
            #expect(nodes.items == sim.objects(Node.self))
            try await client.shutdown()
        }
    }
}

@Suite struct ClientLifetime {
    /// A client dropped without `shutdown()` (a failed or cancelled task) must not crash the process.
    @Test func droppingAClientWithoutShutdownDoesNotCrash() async throws {
        try await withSimulator { sim in
            do {
                let client = try KubeClient(config: sim.clusterConfig(), logger: quietLogger)
                _ = try await client.list(Service.self)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
