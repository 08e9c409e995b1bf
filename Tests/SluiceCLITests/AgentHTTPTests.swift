import Foundation
import SluiceTestSupport
import Testing

/// A LoadBalancer Service with externalTrafficPolicy Local: one endpoint on this node (node1),
/// one elsewhere; the load balancer probes healthCheckNodePort 32000.
let localLBYAML = """
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.20
  clusterIPs: [10.96.0.20]
  ipFamilies: [IPv4]
  externalTrafficPolicy: Local
  healthCheckNodePort: 32000
  ports:
  - {name: http, port: 80, targetPort: 8080, nodePort: 30081, protocol: TCP}
status:
  loadBalancer:
    ingress: [{ip: 192.168.50.9}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: lb-abc
  namespace: default
  labels: {kubernetes.io/service-name: lb}
addressType: IPv4
ports:
- {name: http, port: 8080, protocol: TCP}
endpoints:
- addresses: [LOCAL_ENDPOINT]
  conditions: {ready: true}
  nodeName: node1
- addresses: [10.1.0.6]
  conditions: {ready: true}
  nodeName: node2
"""

/// An HTTP exchange through curl in `ns`: the status line, the headers (lower-cased names)
/// and the body; nil when nothing answered.
func curl(_ ns: NetworkNamespace, _ url: String) throws -> (status: String, headers: [String: String], body: String)? {
    let r = try ns.exec(["curl", "-si", "-g", "--max-time", "2", url], check: false)
    guard r.status == 0, let split = r.stdout.range(of: "\r\n\r\n") else { return nil }
    let lines = r.stdout[..<split.lowerBound].components(separatedBy: "\r\n")
    var headers: [String: String] = [:]
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return (lines[0], headers, String(r.stdout[split.upperBound...]))
}

@Suite("sluice agent's HTTP servers: probes from the node, a load balancer's probe from outside", .serialized)
struct AgentHTTPTests {
    @Test("/livez, /healthz, /metrics and /proxyMode answer on their default addresses; the healthCheckNodePort follows the local endpoint")
    func servers() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        let dir = try manifestDir(extra: localLBYAML.replacingOccurrences(of: "LOCAL_ENDPOINT", with: "10.1.0.4"))
        let agent = try AgentProcess(in: rig.node, ["--manifests", dir] + nodeFlags)

        // The first sync is done once the Service's healthCheckNodePort answers.
        #expect(try waitFor(10) { try curl(rig.client, "http://10.0.0.1:32000/")?.status == "HTTP/1.1 200 OK" } != nil,
                "\(agent.output)")
        #expect(try curl(rig.node, "http://127.0.0.1:10256/livez")?.status == "HTTP/1.1 200 OK")
        let healthz = try #require(try curl(rig.node, "http://10.0.0.1:10256/healthz"))
        #expect(healthz.status == "HTTP/1.1 200 OK")
        #expect(healthz.headers["content-type"] == "application/json" && healthz.headers["x-content-type-options"] == "nosniff")
        #expect(healthz.body.contains(#""nodeEligible":true,"healthy":true,"status":{"IPv4":{"lastUpdated":"#), "\(healthz.body)")

        let metrics = try #require(try curl(rig.node, "http://127.0.0.1:10249/metrics"))
        #expect(metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        let parsed = try PrometheusText(parsing: metrics.body)
        #expect((parsed.value("kubeproxy_sync_full_proxy_rules_duration_seconds_count", ["ip_family": "IPv4"]) ?? 0) >= 1)
        #expect((parsed.value("kubeproxy_proxy_livez_total", ["code": "200"]) ?? 0) >= 1)
        #expect(parsed.value("sluice_health_check_node_port_servers", ["state": "serving"]) == 1)
        #expect(try curl(rig.node, "http://127.0.0.1:10249/proxyMode")?.body == "nftables")
        #expect(try curl(rig.client, "http://10.0.0.1:10249/metrics") == nil, "metrics listen on the node's loopback only")

        // The load balancer's probe, over both families: this node has the local endpoint.
        for url in ["http://10.0.0.1:32000/", "http://[fd00::1]:32000/"] {
            let probe = try #require(try curl(rig.client, url), "\(url)")
            #expect(probe.status == "HTTP/1.1 200 OK", "\(url)")
            #expect(probe.headers["x-load-balancing-endpoint-weight"] == "1")
            #expect(probe.body.contains(#""localEndpoints": 1,"#), "\(probe.body)")
        }

        // The local endpoint moves to another node: the probe fails, the load balancer drains this node.
        try (webYAML.replacingOccurrences(of: "ENDPOINT_A", with: "10.1.0.2"))
            .write(toFile: dir + "/web.yaml", atomically: true, encoding: .utf8)
        try localLBYAML.replacingOccurrences(of: "LOCAL_ENDPOINT", with: "10.1.0.5").replacingOccurrences(of: "nodeName: node1", with: "nodeName: node3")
            .write(toFile: dir + "/extra.yaml", atomically: true, encoding: .utf8)
        #expect(try waitFor(5) { try curl(rig.client, "http://10.0.0.1:32000/")?.status == "HTTP/1.1 503 Service Unavailable" } != nil,
                "\(agent.output)")
        #expect(try curl(rig.client, "http://10.0.0.1:32000/")?.headers["x-load-balancing-endpoint-weight"] == "0")

        #expect(agent.terminate() == 0)
        #expect(try curl(rig.client, "http://10.0.0.1:32000/") == nil, "closed on shutdown")
    }
}
