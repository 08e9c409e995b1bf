import KubeModels
import NetworkTypes
@testable import ProxyCore
import Testing

/// The tracker reports exactly the service ports whose ServicePortInfo changed.
@Suite struct ChangeTrackerTests {
    let web = service()
    let db = service("db", clusterIP: "10.0.0.20")
    let webSlice = slice([ep("10.1.0.1")])
    let dbSlice = slice([ep("10.2.0.1")], name: "db-1", service: "db")

    func started() -> ServiceChangeTracker {
        var t = ServiceChangeTracker(node: nodeA)
        t.serviceUpdated(web)
        t.serviceUpdated(db)
        t.sliceUpdated(webSlice)
        t.sliceUpdated(dbSlice)
        _ = t.update()
        return t
    }

    @Test func firstUpdateReportsEveryPort() {
        var t = ServiceChangeTracker(node: nodeA)
        t.serviceUpdated(web)
        t.sliceUpdated(webSlice)
        t.serviceUpdated(db)
        let u = t.update()
        #expect(u.changed == [key(), key("db")])
        #expect(u.sortedPorts == [
            ServicePortInfo(name: portName("db"), family: .v4, clusterIP: ip("10.0.0.20"), port: 80),
            ServicePortInfo(name: portName(), family: .v4, clusterIP: ip("10.0.0.10"), port: 80,
                            clusterEndpoints: [pe("10.1.0.1")], externalEndpoints: [pe("10.1.0.1")], hasEndpoints: true),
        ])
        #expect(t.update().changed == [])
    }

    @Test func changesToFieldsProxyCoreDoesNotReadAreDroppedAtOnce() {
        var t = started()
        var s = web
        s.metadata.resourceVersion = "2"
        s.metadata.annotations = ["deployment.kubernetes.io/revision": "7"]
        s.spec.selector = ["app": "web2"]
        s.spec.ports[0].targetPort = .string("http")
        t.serviceUpdated(s)
        var es = webSlice
        es.metadata.resourceVersion = "2"
        es.endpoints[0].targetRef = ObjectReference(kind: "Pod", name: "web-2")
        t.sliceUpdated(es)
        #expect(!t.hasPendingChanges)
        #expect(t.update().changed == [])
    }

    @Test func aChangeThatUndoesItselfIsDropped() {
        var t = started()
        t.sliceUpdated(slice([ep("10.1.0.1"), ep("10.1.0.2")]))
        #expect(t.hasPendingChanges)
        t.sliceUpdated(webSlice)
        #expect(!t.hasPendingChanges)
        t.serviceDeleted(db)
        t.serviceUpdated(db)
        #expect(!t.hasPendingChanges)
    }

    @Test func sliceChangeTouchesOnlyItsService() {
        var t = started()
        let before = t.ports[key()]
        t.sliceUpdated(slice([ep("10.1.0.1"), ep("10.1.0.2")]))
        let u = t.update()
        #expect(u.changed == [key()])
        #expect(u.previous == [key(): before])
        #expect(u.ports[key()]?.clusterEndpoints == [pe("10.1.0.1"), pe("10.1.0.2")])
        #expect(u.ports[key("db")]?.clusterEndpoints == [pe("10.2.0.1")])
    }

    @Test func aServiceChangeThatLeavesThePortsAlikeReportsNothing() {
        var t = started()
        var s = web
        s.spec.sessionAffinity = "None"   // the default, spelled out
        t.serviceUpdated(s)
        #expect(t.hasPendingChanges)
        #expect(t.update().changed == [])
    }

    @Test func addingAFamilyReportsOnlyTheNewPort() {
        var t = started()
        var s = web
        s.spec.clusterIPs = ["10.0.0.10", "fd00::10"]
        s.spec.ipFamilies = ["IPv4", "IPv6"]
        t.serviceUpdated(s)
        let u = t.update()
        #expect(u.changed == [key(port: "http", .v6)])
        #expect(u.previous.isEmpty)
        #expect(u.ports.count == 3)
    }

    @Test func deletionsReportRemovedPorts() {
        var t = started()
        let before = t.ports
        t.serviceDeleted(web)
        t.sliceDeleted(dbSlice)
        let u = t.update()
        #expect(u.changed == [key(), key("db")])
        #expect(u.previous == before)
        #expect(u.ports.keys.sorted() == [key("db")])
        #expect(u.ports[key("db")]?.hasEndpoints == false)
    }

    @Test func slicesWithoutTheirServiceChangeNothing() {
        var t = started()
        t.sliceUpdated(slice([ep("10.3.0.1")], name: "cache-1", service: "cache"))
        #expect(t.update().changed == [])
        t.serviceUpdated(service("cache", clusterIP: "10.0.0.30"))
        let u = t.update()
        #expect(u.changed == [key("cache")])
        #expect(u.ports[key("cache")]?.clusterEndpoints == [pe("10.3.0.1")])
    }

    @Test func aSliceMovingToAnotherServiceChangesBoth() {
        var t = started()
        t.sliceUpdated(slice([ep("10.1.0.1")], service: "db"))
        let u = t.update()
        #expect(u.changed == [key(), key("db")])
        #expect(u.ports[key()]?.clusterEndpoints == [])
        #expect(u.ports[key("db")]?.clusterEndpoints == [pe("10.1.0.1"), pe("10.2.0.1")])
    }

    @Test func trafficSplitFollowsItsBackends() {
        var t = started()
        t.serviceUpdated(service("shop", clusterIP: "10.0.0.40", annotations: ["sluice.dev/traffic-split": "web=75,db=25"]))
        var u = t.update()
        #expect(u.changed == [key("shop")])
        #expect(u.ports[key("shop")]?.clusterEndpoints == [pe("10.1.0.1", weight: 3), pe("10.2.0.1")])
        t.sliceUpdated(slice([ep("10.2.0.1"), ep("10.2.0.2")], name: "db-1", service: "db"))
        u = t.update()
        #expect(u.changed == [key("db"), key("shop")])
        #expect(u.ports[key("shop")]?.clusterEndpoints == [pe("10.1.0.1", weight: 6), pe("10.2.0.1"), pe("10.2.0.2")])
        // No longer split: backends no longer drag it along.
        t.serviceUpdated(service("shop", clusterIP: "10.0.0.40"))
        _ = t.update()
        t.sliceUpdated(dbSlice)
        #expect(t.update().changed == [key("db")])
    }

    @Test func theNodesZoneDecidesTopology() {
        var t = ServiceChangeTracker(node: NodeContext(nodeName: "node-a"))
        t.serviceUpdated(web)
        t.sliceUpdated(slice([ep("10.1.0.1", zones: ["zone-a"]), ep("10.1.0.2", zones: ["zone-b"])]))
        #expect(t.update().ports[key()]?.clusterEndpoints.count == 2)
        t.nodeUpdated(Node(metadata: ObjectMeta(name: "node-b", labels: ["topology.kubernetes.io/zone": "zone-a"])))
        #expect(!t.hasPendingChanges)
        t.nodeUpdated(Node(metadata: ObjectMeta(name: "node-a", labels: ["topology.kubernetes.io/zone": "zone-a"])))
        let u = t.update()
        #expect(u.changed == [key()])
        #expect(u.ports[key()]?.clusterEndpoints == [pe("10.1.0.1", zones: ["zone-a"])])
    }

    @Test func diagnosticsComeWithTheUpdateThatRecomputesTheObject() {
        var t = started()
        t.sliceUpdated(slice([ep("10.1.0.1")], annotations: ["sluice.dev/weight": "x"]))
        let u = t.update()
        #expect(u.changed == [])
        #expect(u.diagnostics.map(\.description) == [
            #"EndpointSlice ns/web-1: metadata.annotations[sluice.dev/weight] = "x": expected an integer 0…65535; using weight 1"#,
        ])
        #expect(t.update().diagnostics == [])
    }

    @Test func storeEvents() {
        var t = ServiceChangeTracker(node: nodeA)
        t.apply(StoreEvent<Service>.added(web))
        t.apply(StoreEvent<EndpointSlice>.added(webSlice))
        t.apply(StoreEvent<Service>.synced)
        #expect(t.update().changed == [key()])
        t.apply(StoreEvent<EndpointSlice>.updated(old: webSlice, new: slice([ep("10.1.0.2")])))
        #expect(t.update().ports[key()]?.clusterEndpoints == [pe("10.1.0.2")])
        t.apply(StoreEvent<Service>.deleted(web))
        #expect(t.update().ports.isEmpty)
    }

    /// One event recomputes one Service, however many there are.
    @Test func workFollowsTheChangeNotTheClusterSize() {
        var t = ServiceChangeTracker(node: nodeA)
        for i in 0..<2000 {
            let name = "svc-\(i)"
            t.serviceUpdated(service(name, clusterIP: "10.0.\(i / 256).\(i % 256)"))
            t.sliceUpdated(slice([ep("10.1.\(i / 256).\(i % 256)")], name: "\(name)-1", service: name))
        }
        #expect(t.update().changed.count == 2000)
        #expect(t.lastRecomputed == 2000)
        t.sliceUpdated(slice([ep("10.2.0.1")], name: "svc-7-1", service: "svc-7"))
        let u = t.update()
        #expect(u.changed == [key("svc-7")])
        #expect(t.lastRecomputed == 1)
    }
}
