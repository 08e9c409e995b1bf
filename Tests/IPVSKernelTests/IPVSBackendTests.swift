import IPVS
import IPVSProxier
import NetworkTypes
import Netfilter
import ProxyCore
import SluiceTestSupport
import Testing

@Suite("IPVS backend: service ports to virtual services and the dummy interface", .enabled(if: IPVSKernel.available))
struct IPVSBackendTests {
    static let node = NodeContext(nodeName: "node-a", nodeIPs: [ip("10.0.0.1")])

    static func web(endpoints: [String] = ["10.1.0.2", "10.1.0.3"]) -> ServicePortInfo {
        let eps = endpoints.map { Endpoint(address: ip($0), port: 8080) }
        return ServicePortInfo(
            name: ServicePortName(namespace: "default", name: "web", port: "http", protocol: .tcp), family: .v4,
            clusterIP: ip("10.96.0.10"), port: 80, nodePort: 30080, externalIPs: [ip("192.168.50.7")],
            clusterEndpoints: eps, externalEndpoints: eps, hasEndpoints: !eps.isEmpty)
    }

    static let sticky = ServicePortInfo(
        name: ServicePortName(namespace: "default", name: "sticky", port: "", protocol: .udp), family: .v4,
        clusterIP: ip("10.96.0.11"), port: 53, affinityTimeoutSeconds: 600,
        clusterEndpoints: [Endpoint(address: ip("10.1.0.4"), port: 8080, weight: 3), Endpoint(address: ip("10.1.0.5"), port: 8080)],
        hasEndpoints: true)

    @Test("a sync programs exactly the layout; the plan afterwards is empty; traffic reaches the pods")
    func syncThenNoChange() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        let (sent, state, addresses, after) = try rig.node.enter {
            let backend = try IPVSBackend(layout: IPVSLayout(node: Self.node))
            let sent = try backend.sync([Self.web(), Self.sticky])
            let (state, addresses) = try backend.readBack()
            return (sent, state, addresses, try backend.plan([Self.web(), Self.sticky]))
        }
        #expect(sent.text == """
            + address 10.96.0.10 dev sluice-ipvs0
            + address 10.96.0.11 dev sluice-ipvs0
            + address 192.168.50.7 dev sluice-ipvs0
            + add virtual service TCP 10.0.0.1:30080 rr
            + add virtual service TCP 10.96.0.10:80 rr
            + add virtual service UDP 10.96.0.11:53 wrr persistent 600
            + add virtual service TCP 192.168.50.7:80 rr
            + add destination 10.1.0.2:8080 weight 1 to virtual service TCP 10.0.0.1:30080
            + add destination 10.1.0.3:8080 weight 1 to virtual service TCP 10.0.0.1:30080
            + add destination 10.1.0.2:8080 weight 1 to virtual service TCP 10.96.0.10:80
            + add destination 10.1.0.3:8080 weight 1 to virtual service TCP 10.96.0.10:80
            + add destination 10.1.0.4:8080 weight 3 to virtual service UDP 10.96.0.11:53
            + add destination 10.1.0.5:8080 weight 1 to virtual service UDP 10.96.0.11:53
            + add destination 10.1.0.2:8080 weight 1 to virtual service TCP 192.168.50.7:80
            + add destination 10.1.0.3:8080 weight 1 to virtual service TCP 192.168.50.7:80

            """)
        #expect(state == IPVSLayout(node: Self.node).desired([Self.web(), Self.sticky]).state)
        #expect(addresses == [ip("10.96.0.10"), ip("10.96.0.11"), ip("192.168.50.7")])
        #expect(after.isEmpty, "a second sync would send:\n\(after.text)")

        for (address, port) in [("10.96.0.10", 80), ("192.168.50.7", 80), ("10.0.0.1", 30080)] {
            let answers = try rig.connect(from: rig.client, to: address, port: port, count: 4, timeout: 2)
            #expect(Set(answers.map { $0.split(separator: ":")[0] }) == ["10.1.0.2", "10.1.0.3"], "\(address):\(port) answered \(answers)")
        }
    }

    @Test("drift is repaired, endpoint changes are incremental, and cleanup removes only what Sluice owns")
    func driftAndCleanup() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        try rig.node.enter { _ = try IPVSBackend(layout: IPVSLayout(node: Self.node)).sync([Self.web()]) }
        // Someone deletes a virtual service and edits a weight by hand; a foreign service exists.
        try rig.node.exec(["ipvsadm", "-D", "-t", "10.96.0.10:80"])
        try rig.node.exec(["ipvsadm", "-e", "-t", "192.168.50.7:80", "-r", "10.1.0.2:8080", "-m", "-w", "9"])
        try rig.node.exec(["ipvsadm", "-A", "-t", "10.0.0.1:22", "-s", "rr"])
        let (repair, change, removed, leftover) = try rig.node.enter {
            let backend = try IPVSBackend(layout: IPVSLayout(node: Self.node))
            let repair = try backend.sync([Self.web()])
            let change = try backend.sync([Self.web(endpoints: ["10.1.0.3", "10.1.0.6"])])
            let removed = try backend.cleanup()
            return (repair, change, removed, try IPVSConnection().state())
        }
        #expect(repair.text == """
            + add virtual service TCP 10.96.0.10:80 rr
            + add destination 10.1.0.2:8080 weight 1 to virtual service TCP 10.96.0.10:80
            + add destination 10.1.0.3:8080 weight 1 to virtual service TCP 10.96.0.10:80
            ~ edit destination 10.1.0.2:8080 weight 1 of virtual service TCP 192.168.50.7:80

            """)
        #expect(change.commands.count == 6, "one add and one delete per frontend:\n\(change.text)")
        #expect(removed == 3)
        #expect(leftover.text == "TCP 10.0.0.1:22 rr\n")
        let links = try rig.node.exec(["ip", "-o", "link", "show"]).stdout
        #expect(!links.contains("sluice-ipvs0"))
    }
}
