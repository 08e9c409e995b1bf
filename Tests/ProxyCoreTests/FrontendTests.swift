import KubeModels
import NetworkTypes
@testable import ProxyCore
import Testing

/// Service → frontends, as kube-proxy's newBaseServiceInfo and serviceToServiceMap build them.
/// No slices here: every port has no endpoints.
struct FrontendCase: Sendable, CustomTestStringConvertible {
    var name: String
    var service: Service
    var node: NodeContext = nodeA
    var expected: [ServicePortInfo]
    var diagnostics: [String] = []
    var testDescription: String { name }
}

private let http = portName()

let frontendCases: [FrontendCase] = [
    FrontendCase(name: "ClusterIP, one port", service: service(),
                 expected: [ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.0.0.10"), port: 80)]),
    FrontendCase(name: "two ports, sorted by name; protocol is part of the name",
                 service: service(ports: [ServicePort(name: "http", port: 80), ServicePort(name: "dns", protocol: .udp, port: 53),
                                          ServicePort(name: "dns", protocol: .tcp, port: 53)]),
                 expected: [
                     ServicePortInfo(name: portName(port: "dns", .tcp), family: .v4, clusterIP: ip("10.0.0.10"), port: 53),
                     ServicePortInfo(name: portName(port: "dns", .udp), family: .v4, clusterIP: ip("10.0.0.10"), port: 53),
                     ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.0.0.10"), port: 80),
                 ]),
    FrontendCase(name: "SCTP", service: service(ports: [ServicePort(name: "", protocol: .sctp, port: 9)]),
                 expected: [ServicePortInfo(name: portName(port: "", .sctp), family: .v4, clusterIP: ip("10.0.0.10"), port: 9)]),
    FrontendCase(name: "dual-stack: clusterIPs[i] belongs to ipFamilies[i]; external addresses split by family",
                 service: service(clusterIP: "fd00::10") {
                     $0.spec.type = "LoadBalancer"
                     $0.spec.clusterIPs = ["fd00::10", "10.0.0.10"]
                     $0.spec.ipFamilies = ["IPv6", "IPv4"]
                     $0.spec.ports[0].nodePort = 30080
                     $0.spec.externalIPs = ["192.0.2.1", "2001:db8::1"]
                     $0.spec.loadBalancerSourceRanges = ["198.51.100.0/24", "2001:db8:1::/48"]
                     $0.status = ServiceStatus(loadBalancer: LoadBalancerStatus(ingress: [
                         LoadBalancerIngress(ip: "203.0.113.7"), LoadBalancerIngress(ip: "2001:db8:2::7", ipMode: "VIP"),
                     ]))
                 },
                 expected: [
                     ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.0.0.10"), port: 80, nodePort: 30080,
                                     externalIPs: [ip("192.0.2.1")], loadBalancerIPs: [ip("203.0.113.7")],
                                     loadBalancerSourceRanges: [prefix("198.51.100.0/24")]),
                     ServicePortInfo(name: http, family: .v6, clusterIP: ip("fd00::10"), port: 80, nodePort: 30080,
                                     externalIPs: [ip("2001:db8::1")], loadBalancerIPs: [ip("2001:db8:2::7")],
                                     loadBalancerSourceRanges: [prefix("2001:db8:1::/48")]),
                 ]),
    FrontendCase(name: "hand-written manifest: only clusterIP, no ipFamilies",
                 service: service(clusterIP: "fd00::10") { $0.spec.clusterIPs = nil },
                 expected: [ServicePortInfo(name: http, family: .v6, clusterIP: ip("fd00::10"), port: 80)]),
    FrontendCase(name: "LoadBalancer: ipMode Proxy and hostname-only ingress skipped; source ranges trimmed, host bits cleared",
                 service: service {
                     $0.spec.type = "LoadBalancer"
                     $0.spec.ports[0].nodePort = 30080
                     $0.spec.loadBalancerSourceRanges = [" 192.168.1.7/16 ", "10.1.0.0/16"]
                     $0.status = ServiceStatus(loadBalancer: LoadBalancerStatus(ingress: [
                         LoadBalancerIngress(ip: "203.0.113.7"), LoadBalancerIngress(ip: "203.0.113.8", ipMode: "Proxy"),
                         LoadBalancerIngress(hostname: "lb.example"), LoadBalancerIngress(ip: "203.0.113.9", ipMode: "VIP"),
                     ]))
                 },
                 expected: [ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.0.0.10"), port: 80, nodePort: 30080,
                                            loadBalancerIPs: [ip("203.0.113.7"), ip("203.0.113.9")],
                                            loadBalancerSourceRanges: [prefix("192.168.0.0/16"), prefix("10.1.0.0/16")])]),
    FrontendCase(name: "LoadBalancer eTP Local: external policy Local and the health check node port",
                 service: service {
                     $0.spec.type = "LoadBalancer"
                     $0.spec.ports[0].nodePort = 30080
                     $0.spec.externalTrafficPolicy = "Local"
                     $0.spec.healthCheckNodePort = 32000
                 },
                 expected: [ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.0.0.10"), port: 80, nodePort: 30080,
                                            externalPolicyLocal: true, healthCheckNodePort: 32000)]),
    FrontendCase(name: "LoadBalancer eTP Local without a health check node port",
                 service: service {
                     $0.spec.type = "LoadBalancer"
                     $0.spec.externalTrafficPolicy = "Local"
                 },
                 expected: [ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.0.0.10"), port: 80, externalPolicyLocal: true)],
                 diagnostics: [#"Service ns/web: spec.healthCheckNodePort = "0": not a port number; no health check server"#]),
    FrontendCase(name: "NodePort eTP Local: no health check node port (only LoadBalancers need one)",
                 service: service {
                     $0.spec.type = "NodePort"
                     $0.spec.ports[0].nodePort = 30080
                     $0.spec.externalTrafficPolicy = "Local"
                     $0.spec.healthCheckNodePort = 32000
                 },
                 expected: [ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.0.0.10"), port: 80, nodePort: 30080,
                                            externalPolicyLocal: true)]),
    FrontendCase(name: "ClusterIP with externalIPs and eTP Local is externally accessible",
                 service: service {
                     $0.spec.externalIPs = ["192.0.2.1"]
                     $0.spec.externalTrafficPolicy = "Local"
                 },
                 expected: [ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.0.0.10"), port: 80,
                                            externalIPs: [ip("192.0.2.1")], externalPolicyLocal: true)]),
    FrontendCase(name: "ClusterIP without externalIPs: eTP Local means nothing",
                 service: service { $0.spec.externalTrafficPolicy = "Local" },
                 expected: [ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.0.0.10"), port: 80)]),
    FrontendCase(name: "iTP Local", service: service { $0.spec.internalTrafficPolicy = "Local" },
                 expected: [ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.0.0.10"), port: 80, internalPolicyLocal: true)]),
    FrontendCase(name: "ClientIP affinity without config: 10800 s", service: service { $0.spec.sessionAffinity = "ClientIP" },
                 expected: [ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.0.0.10"), port: 80, affinityTimeoutSeconds: 10800)]),
    FrontendCase(name: "ClientIP affinity with timeout",
                 service: service {
                     $0.spec.sessionAffinity = "ClientIP"
                     $0.spec.sessionAffinityConfig = SessionAffinityConfig(clientIP: .init(timeoutSeconds: 60))
                 },
                 expected: [ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.0.0.10"), port: 80, affinityTimeoutSeconds: 60)]),
    FrontendCase(name: "affinity None with a config: no affinity",
                 service: service {
                     $0.spec.sessionAffinity = "None"
                     $0.spec.sessionAffinityConfig = SessionAffinityConfig(clientIP: .init(timeoutSeconds: 60))
                 },
                 expected: [ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.0.0.10"), port: 80)]),
    FrontendCase(name: "headless (clusterIP None) is skipped", service: service(clusterIP: "None"), expected: []),
    FrontendCase(name: "no cluster IP is skipped", service: service(clusterIP: "") { $0.spec.clusterIPs = nil }, expected: []),
    FrontendCase(name: "ExternalName is skipped even with a cluster IP", service: service { $0.spec.type = "ExternalName" },
                 expected: []),
    FrontendCase(name: "service-proxy-name label: another proxy's Service",
                 service: service(labels: ["service.kubernetes.io/service-proxy-name": "other"]), expected: []),
    FrontendCase(name: "headless label is skipped", service: service(labels: ["service.kubernetes.io/headless": ""]), expected: []),
    FrontendCase(name: "--proxy-name sluice: unlabelled Services are not ours", service: service(),
                 node: NodeContext(nodeName: "node-a", proxyName: "sluice"), expected: []),
    FrontendCase(name: "--proxy-name sluice: labelled sluice",
                 service: service(labels: ["service.kubernetes.io/service-proxy-name": "sluice"]),
                 node: NodeContext(nodeName: "node-a", proxyName: "sluice"),
                 expected: [ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.0.0.10"), port: 80)]),
    FrontendCase(name: "--proxy-name sluice: labelled for another proxy",
                 service: service(labels: ["service.kubernetes.io/service-proxy-name": "other"]),
                 node: NodeContext(nodeName: "node-a", proxyName: "sluice"), expected: []),
    FrontendCase(name: "malformed: bad cluster IP of one family, bad port, bad node port, bad externalIP, bad range, bad timeout",
                 service: service(ports: [ServicePort(name: "a", port: 0), ServicePort(name: "b", port: 81, nodePort: 70000),
                                          ServicePort(name: "http", port: 80), ServicePort(name: "http", port: 8080)]) {
                     $0.spec.clusterIPs = ["10.0.0.10", "fd00::zz"]
                     $0.spec.ipFamilies = ["IPv4", "IPv6"]
                     $0.spec.externalIPs = ["192.0.2.300", "192.0.2.1"]
                     $0.spec.loadBalancerSourceRanges = ["10.0.0.0/33", "10.0.0.1"]
                     $0.spec.sessionAffinity = "ClientIP"
                     $0.spec.sessionAffinityConfig = SessionAffinityConfig(clientIP: .init(timeoutSeconds: 0))
                 },
                 expected: [ServicePortInfo(name: http, family: .v4, clusterIP: ip("10.0.0.10"), port: 80,
                                            externalIPs: [ip("192.0.2.1")], affinityTimeoutSeconds: 10800)],
                 diagnostics: [
                     #"Service ns/web: spec.clusterIPs[1] = "fd00::zz": not an IP address; this family is not proxied"#,
                     #"Service ns/web: spec.sessionAffinityConfig.clientIP.timeoutSeconds = "0": must be 1…86400; using 10800"#,
                     #"Service ns/web: spec.externalIPs[0] = "192.0.2.300": not an IP address; ignored"#,
                     #"Service ns/web: spec.loadBalancerSourceRanges[0] = "10.0.0.0/33": not a CIDR; ignored"#,
                     #"Service ns/web: spec.loadBalancerSourceRanges[1] = "10.0.0.1": not a CIDR; ignored"#,
                     #"Service ns/web: spec.ports[0].port = "0": not a port number 1…65535; port skipped"#,
                     #"Service ns/web: spec.ports[1].nodePort = "70000": not a port number 1…65535; port skipped"#,
                     #"Service ns/web: spec.ports[3] = "http": a port with this name and protocol exists already; skipped"#,
                 ]),
    FrontendCase(name: "malformed: ipFamilies disagree with the address",
                 service: service { $0.spec.ipFamilies = ["IPv6"] },
                 expected: [],
                 diagnostics: [#"Service ns/web: spec.ipFamilies[0] = "IPv6": does not match cluster IP 10.0.0.10; this family is not proxied"#]),
]

@Test(arguments: frontendCases)
func frontends(_ c: FrontendCase) {
    let result = build([c.service], node: c.node)
    #expect(result.ports == c.expected)
    #expect(result.diagnostics.map(\.description) == c.diagnostics)
}
