import Foundation
import KubeModels
@testable import ManifestSource
import NetworkTypes
import ProxyCore
import Testing

/// The fixture folder, copied into the test bundle.
let fixtures: String = {
    guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else { fatalError("no Fixtures in the test bundle") }
    return url.path
}()

func ip(_ s: String) -> IPAddress { IPAddress(s)! }

@Suite struct ManifestLoaderTests {
    @Test func kubectlGetList() throws {
        let m = try ManifestLoader.load(paths: [fixtures + "/kubectl-get.yaml"])
        #expect(m.services.map(\.key.description) == ["default/kubernetes", "shop/web"])
        #expect(m.endpointSlices.map(\.key.description) == ["default/kubernetes", "shop/web-v6q9z", "shop/web-x7k2p"])
        #expect(m.nodes.isEmpty)
        #expect(m.notes.isEmpty)
        let web = try #require(m.services.last)
        #expect(web.spec.clusterIPs == ["10.96.0.20", "fd00:96::20"])
        #expect(web.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds == 600)
        #expect(web.status?.loadBalancer?.ingress?.map(\.ipMode) == ["VIP", "Proxy"])
        // An unquoted timestamp stays the string it was written as.
        #expect(m.services.first?.metadata.creationTimestamp == "2026-11-20T09:00:00Z")
        let terminating = try #require(m.endpointSlices.last?.endpoints.last)
        #expect(terminating.conditions == EndpointConditions(ready: false, serving: true, terminating: true))
    }

    /// From manifests to what the proxier programs: the whole path in one table.
    @Test func kubectlGetListToServicePorts() throws {
        let m = try ManifestLoader.load(paths: [fixtures + "/kubectl-get.yaml"])
        let result = ServicePortBuilder.servicePorts(services: m.services, slices: m.endpointSlices,
                                                     node: NodeContext(nodeName: "node-a"))
        let http = ServicePortName(namespace: "shop", name: "web", port: "http", protocol: .tcp)
        let https = ServicePortName(namespace: "default", name: "kubernetes", port: "https", protocol: .tcp)
        let local4 = ProxyCore.Endpoint(address: ip("10.244.1.5"), port: 8080, isLocal: true)
        let local6 = ProxyCore.Endpoint(address: ip("fd00:244:1::5"), port: 8080, isLocal: true)
        #expect(result.ports == [
            ServicePortInfo(name: https, family: .v4, clusterIP: ip("10.96.0.1"), port: 443,
                            clusterEndpoints: [ProxyCore.Endpoint(address: ip("192.168.0.10"), port: 6443)],
                            externalEndpoints: [ProxyCore.Endpoint(address: ip("192.168.0.10"), port: 6443)], hasEndpoints: true),
            ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.96.0.20"), port: 80, nodePort: 30080,
                            loadBalancerIPs: [ip("203.0.113.20")], affinityTimeoutSeconds: 600, externalPolicyLocal: true,
                            healthCheckNodePort: 32100, clusterEndpoints: [local4], externalEndpoints: [local4], hasEndpoints: true),
            ServicePortInfo(name: http, family: .v6, clusterIP: ip("fd00:96::20"), port: 80, nodePort: 30080,
                            affinityTimeoutSeconds: 600, externalPolicyLocal: true, healthCheckNodePort: 32100,
                            clusterEndpoints: [local6], externalEndpoints: [local6], hasEndpoints: true),
        ])
        #expect(result.diagnostics == [])
    }

    @Test func folderRecursiveMultiDocumentJSONAndNotes() throws {
        let dir = fixtures + "/cluster"
        let m = try ManifestLoader.load(paths: [dir])
        #expect(m.services.map(\.key.description) == ["default/db", "kube-system/dns"])
        #expect(m.endpointSlices.map(\.key.description) == ["default/db-1"])
        #expect(m.nodes.map(\.key.description) == ["node-a"])
        #expect(m.nodes.first?.zone == "zone-a")
        #expect(m.notes.map(\.description) == [
            "\(dir)/nested/slices.yml, document 2: skipped EndpointSlice of apiVersion discovery.k8s.io/v1beta1: Sluice reads discovery.k8s.io/v1",
            "\(dir)/services.yaml, document 3: skipped ConfigMap settings: not a kind Sluice reads",
        ])
    }

    @Test func malformedObjectIsSkippedNamingFileDocumentObjectAndField() throws {
        let file = fixtures + "/bad/malformed.yaml"
        let m = try ManifestLoader.load(paths: [fixtures + "/bad"])
        #expect(m.services.map(\.key.description) == ["default/fine"], "the rest is kept")
        #expect(m.skipped.count == 1)
        let e = try #require(m.skipped.first)
        #expect(e.location == ManifestLocation(file: file, document: 2))
        #expect(e.object == "Service shop/broken")
        #expect(e.field == "spec.ports[0].port")
        #expect(e.value == "eighty")
        #expect(e.ref == ManifestObject(kind: "Service", key: ObjectKey(namespace: "shop", name: "broken")))
        #expect(e.description.hasPrefix("\(file), document 2 (Service shop/broken): field spec.ports[0].port = \"eighty\": "))
    }
}

struct ParseCase: Sendable, CustomTestStringConvertible {
    var name: String
    var file: String = "in.yaml"
    var text: String
    var errors: [String]
    var testDescription: String { name }
}

/// A file that is not YAML or JSON refuses the run.
let parseErrorCases: [ParseCase] = [
    ParseCase(name: "YAML syntax error", text: "kind: Service\nmetadata: {name: a\n",
              errors: ["in.yaml, document 1: not valid YAML: line 3, column 1: did not find expected ',' or '}' while parsing a flow mapping"]),
    ParseCase(name: "bad JSON", file: "in.json", text: "{\"kind\": ", errors: ["in.json, document 1: not valid JSON: "]),
]

/// Errors are compared by prefix where the rest is the JSON decoder's own wording.
@Test(arguments: parseErrorCases)
func parseErrors(_ c: ParseCase) throws {
    let error = try #require(throws: ManifestErrors.self) { try ManifestLoader.parse(c.text, file: c.file) }
    #expect(error.errors.count == c.errors.count)
    for (got, want) in zip(error.errors.map(\.description), c.errors) {
        #expect(got.hasPrefix(want), "\(got)")
    }
}

/// A document or object that cannot be read is skipped, named; the rest is kept.
let skippedCases: [ParseCase] = [
    ParseCase(name: "no kind", text: "apiVersion: v1\nmetadata:\n  name: a\n",
              errors: ["in.yaml, document 1: field kind: required field is missing"]),
    ParseCase(name: "not an object", text: "- a\n- b\n", errors: ["in.yaml, document 1: the document is not a Kubernetes object"]),
    ParseCase(name: "no name", text: "kind: Service\nmetadata: {}\nspec: {clusterIP: 10.0.0.1}\n",
              errors: ["in.yaml, document 1 (Service): field metadata.name: required field is missing"]),
    ParseCase(name: "List item with a bad field",
              text: """
              kind: List
              items:
              - {apiVersion: v1, kind: Service, metadata: {name: a}, spec: {ports: [{port: 80}]}}
              - {apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, metadata: {name: b, namespace: x}, addressType: IPv4,
                 endpoints: [{addresses: [10.0.0.1], conditions: {ready: maybe}}]}
              """,
              errors: [#"in.yaml, document 1, items[1] (EndpointSlice x/b): field endpoints[0].conditions.ready = "maybe": "#]),
    ParseCase(name: "unknown protocol", text: "kind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80, protocol: QUIC}]}\n",
              errors: [#"in.yaml, document 1 (Service default/a): field spec.ports[0].protocol = "QUIC": expected TCP, UDP or SCTP"#]),
]

@Test(arguments: skippedCases)
func skippedObjects(_ c: ParseCase) throws {
    let m = try ManifestLoader.parse(c.text, file: c.file)
    #expect(m.skipped.count == c.errors.count)
    for (got, want) in zip(m.skipped.map(\.description), c.errors) {
        #expect(got.hasPrefix(want), "\(got)")
    }
}

@Test func typedListJSONAndDuplicates() throws {
    let json = """
    {"kind": "ServiceList", "apiVersion": "v1", "metadata": {"resourceVersion": "9"},
     "items": [{"metadata": {"name": "a", "namespace": "n"}, "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 80}]}},
               {"metadata": {"name": "a", "namespace": "n"}, "spec": {"clusterIP": "10.0.0.2", "ports": [{"port": 80}]}}]}
    """
    let m = try ManifestLoader.parse(json, file: "svc.json")
    #expect(m.services.map(\.spec.clusterIP) == ["10.0.0.2"])
    #expect(m.notes.map(\.description) == ["svc.json, document 1, items[1]: Service n/a replaces the one at svc.json, document 1, items[0]"])
}

@Test func missingPath() throws {
    let error = try #require(throws: ManifestErrors.self) { try ManifestLoader.load(paths: ["/nonexistent/sluice"]) }
    #expect(error.errors.map(\.description) == ["/nonexistent/sluice, document 1: no such file or directory"])
}

@Test func yamlScalarsAsKubectlReadsThem() throws {
    let yaml = """
    kind: Service
    apiVersion: v1
    metadata:
      name: a
      labels: &labels {app: web, tier: "1"}
      annotations:
        sluice.dev/weight: "010"
        note: yes-ish
    spec:
      clusterIP: 10.0.0.1
      ports: [{port: 0x50, name: http}]
      selector: *labels
    """
    let m = try ManifestLoader.parse(yaml, file: "a.yaml")
    let s = try #require(m.services.first)
    #expect(s.metadata.labels == ["app": "web", "tier": "1"])
    #expect(s.spec.selector == ["app": "web", "tier": "1"])
    #expect(s.spec.ports.map(\.port) == [80])
    #expect(s.metadata.annotations?["sluice.dev/weight"] == "010")
}
