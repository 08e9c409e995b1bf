import Foundation
import SluiceTestSupport
import Testing

/// The `sluice` executable built next to this test bundle.
let sluice: String = {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return dir.appendingPathComponent("sluice").path
}()

let webYAML = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10]
  ipFamilies: [IPv4]
  ports:
  - {name: http, port: 80, targetPort: 8080, nodePort: 30080, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  namespace: default
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports:
- {name: http, port: 8080, protocol: TCP}
endpoints:
- addresses: [ENDPOINT_A]
  conditions: {ready: true}
  nodeName: node1
- addresses: [10.1.0.3]
  conditions: {ready: true}
  nodeName: node2
"""

func manifestDir(_ endpointA: String = "10.1.0.2", extra: String? = nil) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try webYAML.replacingOccurrences(of: "ENDPOINT_A", with: endpointA)
        .write(to: dir.appendingPathComponent("web.yaml"), atomically: true, encoding: .utf8)
    if let extra { try extra.write(to: dir.appendingPathComponent("extra.yaml"), atomically: true, encoding: .utf8) }
    return dir.path
}

let nodeFlags = ["--node-name", "node1", "--cluster-cidr", "10.1.0.0/16"]

@Suite("sluice apply, diff and cleanup", .serialized)
struct CLITests {
    @Test("apply programs the node: packets land; diff then shows nothing; an edit shows exactly its elements")
    func applyThenDiff() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        let dir = try manifestDir()
        try rig.node.exec([sluice, "apply", "--manifests", dir] + nodeFlags)
        #expect(Set(try rig.connect(from: rig.client, to: "10.96.0.10", port: 80, count: 20))
                == ["10.1.0.2:8080 10.1.0.1", "10.1.0.3:8080 10.1.0.1"])
        #expect(Set(try rig.connect(from: rig.client, to: "10.0.0.1", port: 30080, count: 20))
                == ["10.1.0.2:8080 10.1.0.1", "10.1.0.3:8080 10.1.0.1"])

        let same = try rig.node.exec([sluice, "diff", "--manifests", dir] + nodeFlags, check: false)
        #expect(same.status == 0)
        #expect(same.stdout == "")

        let edited = try manifestDir("10.1.0.4")
        let diff = try rig.node.exec([sluice, "diff", "--manifests", edited] + nodeFlags, check: false)
        #expect(diff.status == 1)
        #expect(diff.stdout == """
            delete element ip sluice backends { 10.96.0.10 . tcp . 80 . 0 }
            delete element ip sluice hairpin { 10.1.0.2 . 10.1.0.2 }
            delete element ip sluice nodeport-backends { tcp . 30080 . 0 }
            add element ip sluice backends { 10.96.0.10 . tcp . 80 . 0 comment "default/web:http" : 10.1.0.4 . 8080 }
            add element ip sluice hairpin { 10.1.0.4 . 10.1.0.4 }
            add element ip sluice nodeport-backends { tcp . 30080 . 0 comment "default/web:http" : 10.1.0.4 . 8080 }

            """)
        // The printed diff is a valid nft script that gets the kernel there.
        try rig.node.exec(["nft", "-f", "-"], input: diff.stdout)
        #expect(try rig.node.exec([sluice, "diff", "--manifests", edited] + nodeFlags, check: false).status == 0)
    }

    @Test("two Services claiming one external IP: apply warns, naming both, and the first keeps it")
    func conflictWarning() throws {
        let ns = try NetworkNamespace()
        defer { ns.delete() }
        let shared = ["a", "b"].map { name in """
            apiVersion: v1
            kind: Service
            metadata: {name: \(name), namespace: default}
            spec: {clusterIP: 10.96.1.\(name == "a" ? 1 : 2), clusterIPs: [10.96.1.\(name == "a" ? 1 : 2)], ipFamilies: [IPv4],
                   externalIPs: [192.168.50.9], ports: [{name: http, port: 80, targetPort: 8080}]}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: \(name)-1, namespace: default, labels: {kubernetes.io/service-name: \(name)}}
            addressType: IPv4
            ports: [{name: http, port: 8080, protocol: TCP}]
            endpoints: [{addresses: [10.1.0.\(name == "a" ? 2 : 3)], nodeName: node1}]
            """ }.joined(separator: "\n---\n")
        let r = try ns.exec([sluice, "apply", "--manifests", try manifestDir(extra: shared)] + nodeFlags)
        #expect(r.stderr == "warning: default/b:http: 192.168.50.9 tcp 80 is already default/a:http's; ignored while default/a:http has it\n")
        let listing = try ns.exec(["nft", "list", "map", "ip", "sluice", "backends"]).stdout
        #expect(listing.contains("192.168.50.9 . tcp . 80 . 0 comment \"default/a:http\" : 10.1.0.2 . 8080"))
        #expect(!listing.contains("192.168.50.9 . tcp . 80 . 0 comment \"default/b:http\""))
    }

    @Test("node configuration from a config file, and flags override it")
    func configFile() throws {
        let ns = try NetworkNamespace()
        defer { ns.delete() }
        let dir = try manifestDir()
        let config = URL(fileURLWithPath: dir).appendingPathComponent("node.config").path
        try """
            nodeName: node1
            clusterCIDRs: [10.1.0.0/16, 10.2.0.0/16]
            serviceCIDRs: [10.96.0.0/12, "fd02::/108"]
            nodePortAddresses: [10.0.0.1]
            masqueradeBit: 15
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let fromFile = try ns.exec([sluice, "diff", "--against", "empty", "--manifests", dir, "--config", config], check: false)
        #expect(fromFile.status == 1)
        for line in [
            "add rule ip sluice services ip daddr 10.96.0.0/12 drop",
            "add rule ip6 sluice services ip6 daddr fd02::/108 drop",
            "add rule ip sluice services ip saddr 10.1.0.0-10.2.255.255 ip daddr . meta l4proto . th dport vmap @service-ips-internal",
            "add rule ip sluice lbc-2 ip saddr != 10.1.0.0-10.2.255.255 meta mark set meta mark | 0x00008000",
            "add set ip sluice nodeport-ips { type ipv4_addr; comment \"addresses NodePorts answer on\"; elements = { 10.0.0.1 }; }",
        ] {
            #expect(fromFile.stdout.contains(line + "\n"), "missing: \(line)")
        }
        // Flags win over the file.
        let overridden = try ns.exec([sluice, "diff", "--against", "empty", "--manifests", dir, "--config", config,
                                      "--service-cidr", "10.100.0.0/16", "--masquerade-bit", "14"], check: false)
        #expect(overridden.stdout.contains("add rule ip sluice services ip daddr 10.100.0.0/16 drop\n"))
        #expect(!overridden.stdout.contains("10.96.0.0/12"))
        #expect(!overridden.stdout.contains("fd02::/108"))
        #expect(overridden.stdout.contains("meta mark set meta mark | 0x00004000"))
        // A bad value names the key.
        try "serviceCIDRs: [10.96.0.0/33]\n".write(toFile: config, atomically: true, encoding: .utf8)
        let bad = try ns.exec([sluice, "diff", "--manifests", dir, "--config", config], check: false)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("service CIDR: '10.96.0.0/33' is not a CIDR"))
    }

    @Test("cleanup removes ip sluice and ip6 sluice and nothing else")
    func cleanup() throws {
        let ns = try NetworkNamespace()
        defer { ns.delete() }
        try ns.exec(["nft", "add table ip other; add chain ip other c; add table ip6 sluicex"])
        try ns.exec([sluice, "apply", "--manifests", try manifestDir()] + nodeFlags)
        try ns.exec([sluice, "cleanup"])
        #expect(try ns.exec(["nft", "list", "tables"]).stdout == "table ip other\ntable ip6 sluicex\n")
        #expect(try ns.exec([sluice, "cleanup"]).stdout == "nothing to remove\n")
    }
}
