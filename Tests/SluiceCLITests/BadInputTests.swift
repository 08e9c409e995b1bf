import Foundation
import KubeAPITesting
import KubeModels
import SluiceTestSupport
import Testing

/// One bad object next to web.yaml, and the one warning it must give: file, document, object,
/// field, value, what was done instead. Everything else is applied, and the exit status is 0.
struct BadObject: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    /// The warning, with DIR for the manifest folder.
    var warning: String
    var testDescription: String { name }
}

let badObjects: [BadObject] = [
    BadObject(
        name: "an unknown protocol",
        yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: xyz, namespace: default}\nspec: {clusterIP: 10.96.0.50, ports: [{port: 80, protocol: XYZ}]}\n",
        warning: "warning: DIR/extra.yaml, document 1 (Service default/xyz): field spec.ports[0].protocol = \"XYZ\": expected TCP, UDP or SCTP; object skipped"),
    BadObject(
        name: "a port that is not a number",
        yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: bad, namespace: default}\nspec:\n  ports: [{port: eighty}]\n",
        warning: "warning: DIR/extra.yaml, document 1 (Service default/bad): field spec.ports[0].port = \"eighty\": Expected to decode Int32 but found a string instead.; object skipped"),
    BadObject(
        name: "port 70000",
        yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: big, namespace: default}\nspec: {clusterIP: 10.96.0.51, ports: [{name: http, port: 70000}]}\n",
        warning: "warning: DIR/extra.yaml, document 1: Service default/big: spec.ports[0].port = \"70000\": not a port number 1…65535; port skipped"),
    BadObject(
        name: "a negative weight",
        yaml: """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: web-neg, namespace: default, labels: {kubernetes.io/service-name: web}, annotations: {sluice.dev/weight: "-5"}}
            addressType: IPv4
            ports: [{name: http, port: 8080}]
            endpoints: [{addresses: [10.1.0.9]}]

            """,
        warning: "warning: DIR/extra.yaml, document 1: EndpointSlice default/web-neg: metadata.annotations[sluice.dev/weight] = \"-5\": expected an integer 0…65535; using weight 1"),
    BadObject(
        name: "a 300-character Service name",
        yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: \(String(repeating: "a", count: 300)), namespace: default}\nspec: {clusterIP: 10.96.0.52, ports: [{port: 80}]}\n",
        warning: "warning: DIR/extra.yaml, document 1: Service default/\(String(repeating: "a", count: 92))… (308 bytes): metadata.name = \"\(String(repeating: "a", count: 64))…\" (300 bytes): not a Service name (a DNS-1035 label of at most 63 characters); Service skipped"),
    BadObject(
        name: "a traffic split naming a Service that does not exist",
        yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: split, namespace: default, annotations: {sluice.dev/traffic-split: \"gone=100\"}}\nspec: {clusterIP: 10.96.0.53, ports: [{name: http, port: 80}]}\n",
        warning: "warning: DIR/extra.yaml, document 1: Service default/split: metadata.annotations[sluice.dev/traffic-split] = \"gone=100\": no Service gone in namespace default; no endpoints, connections are rejected"),
    BadObject(
        name: "a traffic split naming one missing Service and one present",
        yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: split, namespace: default, annotations: {sluice.dev/traffic-split: \"web=90,gone=10\"}}\nspec: {clusterIP: 10.96.0.53, ports: [{name: http, port: 80}]}\n",
        warning: "warning: DIR/extra.yaml, document 1: Service default/split: metadata.annotations[sluice.dev/traffic-split] = \"web=90,gone=10\": no Service gone in namespace default; its share goes to web"),
]

@Suite("Bad input: one rule for bad objects, errors and exit codes that agree, stdin", .serialized)
struct BadInputTests {
    @Test("a bad object is skipped with one warning naming file, object, field and value; the rest is applied", arguments: badObjects)
    func badObjectSkipped(_ c: BadObject) throws {
        let ns = try NetworkNamespace()
        defer { ns.delete() }
        let dir = try manifestDir(extra: c.yaml)
        let r = try ns.exec([sluice, "apply", "--manifests", dir] + nodeFlags, check: false)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr == c.warning.replacingOccurrences(of: "DIR", with: dir) + "\n")
        #expect(try ns.exec(["nft", "list", "map", "ip", "sluice", "service-ips"]).stdout.contains("10.96.0.10 . tcp . 80"),
                "the good Service is applied")
        let d = try ns.exec([sluice, "diff", "--manifests", dir] + nodeFlags, check: false)
        #expect(d.status == 0 && d.stderr == r.stderr, "diff warns alike and finds nothing left to do")
    }

    @Test("a file that is not YAML refuses the run: one line, nothing binary, exit 2, nothing changed")
    func notYAML() throws {
        let ns = try NetworkNamespace()
        defer { ns.delete() }
        let dir = try manifestDir()
        var bytes = [UInt8](repeating: 0, count: 20_000)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i * 7919 % 251) }
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/junk.yaml"))
        for command in ["apply", "diff"] {
            let r = try ns.exec([sluice, command, "--manifests", dir] + nodeFlags, check: false)
            #expect(r.status == 2)
            #expect(r.stderr == "error: \(dir)/junk.yaml, document 1: not valid YAML: byte 0: control characters are not allowed (0x0)\n")
            #expect(r.stdout == "")
        }
        #expect(try ns.exec(["nft", "list", "ruleset"]).stdout == "")
        let missing = try ns.exec([sluice, "apply", "--manifests", dir + "/nope.yaml"] + nodeFlags, check: false)
        #expect(missing.status == 2)
        #expect(missing.stderr == "error: \(dir)/nope.yaml, document 1: no such file or directory\n")
    }

    @Test("without CAP_NET_ADMIN: one readable line, exit 1 for apply and 2 for diff")
    func withoutPrivilege() throws {
        let ns = try NetworkNamespace()
        defer { ns.delete() }
        let dir = try manifestDir()
        let line = "error: the kernel refused to let us read the nftables tables: EPERM — needs CAP_NET_ADMIN in this network namespace\n"
        for (command, status) in [("apply", Int32(1)), ("diff", Int32(2)), ("cleanup", Int32(1))] {
            let args = command == "cleanup" ? [sluice, command] : [sluice, command, "--manifests", dir] + nodeFlags
            let r = try ns.exec(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + args, check: false)
            #expect(r.status == status, "\(command)")
            #expect(r.stderr == line, "\(command)")
        }
    }

    @Test("usage mistakes exit 2 with the usage; --against names its values")
    func usage() throws {
        let r = try run([sluice, "diff", "--manifests", "x", "--against", "nope"], check: false)
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("Error: The value 'nope' is invalid for '--against <against>'. Please provide one of 'live' and 'empty'."))
        #expect(r.stderr.contains("Usage: sluice diff"))
        let help = try run([sluice, "diff", "--help"]).stdout
        #expect(help.contains("(values: live, empty; default: live)"))
        #expect(help.contains("nft 1.0.6"))
    }

    @Test("manifests from standard input: - and /dev/stdin, YAML or JSON")
    func standardInput() throws {
        let ns = try NetworkNamespace()
        defer { ns.delete() }
        let yaml = webYAML.replacingOccurrences(of: "ENDPOINT_A", with: "10.1.0.2")
        for path in ["-", "/dev/stdin"] {
            let r = try ns.exec([sluice, "diff", "--manifests", path, "--against", "empty"] + nodeFlags, input: yaml, check: false)
            #expect(r.status == 1, "\(path): \(r.stderr)")
            #expect(r.stdout.contains("10.96.0.10 . tcp . 80 comment \"default/web:http\" : goto lbc-2"), "\(path)")
        }
        let json = #"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "j", "namespace": "default"}, "spec": {"clusterIP": "10.96.0.77", "ports": [{"port": 80}]}}"#
        let j = try ns.exec([sluice, "diff", "--manifests", "-", "--against", "empty"] + nodeFlags, input: json, check: false)
        #expect(j.status == 1 && j.stdout.contains("10.96.0.77 . tcp . 80 comment \"default/j\" : goto reject-chain"), "\(j.stderr)")
    }

    @Test("kubectl get svc,endpointslices -A -o yaml | sluice diff --manifests -", .enabled(if: kubectl != nil, "kubectl is not installed"))
    func fromKubectl() async throws {
        let sim = try await KubeAPISimulator.start(SimulatorOptions(tokens: ["t": "admin"]))
        defer { Task { try? await sim.shutdown() } }
        try sim.create(Service(metadata: ObjectMeta(name: "web", namespace: "shop"),
                               spec: ServiceSpec(type: "ClusterIP", clusterIP: "10.96.0.10", clusterIPs: ["10.96.0.10"],
                                                 ports: [ServicePort(name: "http", port: 80, targetPort: .int(8080))])))
        try sim.create(EndpointSlice(metadata: ObjectMeta(name: "web-1", namespace: "shop", labels: ["kubernetes.io/service-name": "web"]),
                                     endpoints: [Endpoint(addresses: ["10.1.0.2"])], ports: [EndpointPort(name: "http", port: 8080)]))
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-kubeconfig-\(UUID().uuidString)").path
        try sim.kubeconfig(token: "t").write(toFile: config, atomically: true, encoding: .utf8)
        let ns = try NetworkNamespace()
        defer { ns.delete() }
        let listing = try run([kubectl ?? "kubectl", "--kubeconfig", config, "get", "svc,endpointslices", "-A", "-o", "yaml"]).stdout
        let r = try ns.exec([sluice, "diff", "--manifests", "-", "--against", "empty"] + nodeFlags, input: listing, check: false)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stdout.contains("10.96.0.10 . tcp . 80 . 0 comment \"shop/web:http\" : 10.1.0.2 . 8080"))
    }
}

let kubectl = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].first { FileManager.default.isExecutableFile(atPath: $0) }
