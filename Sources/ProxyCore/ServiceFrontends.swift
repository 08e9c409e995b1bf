import KubeModels
import NetworkTypes

/// One port of a Service in one IP family before endpoints are attached: kube-proxy's
/// BaseServicePortInfo.
struct ServiceFrontend: Hashable, Sendable {
    var name: ServicePortName
    var family: IPFamily
    var clusterIP: IPAddress
    var port: UInt16
    var nodePort: UInt16?
    var externalIPs: [IPAddress]
    var loadBalancerIPs: [IPAddress]
    var loadBalancerSourceRanges: [IPPrefix]
    var affinityTimeoutSeconds: UInt32?
    var externalPolicyLocal: Bool
    var internalPolicyLocal: Bool
    var healthCheckNodePort: UInt16?

    /// kube-proxy's ServicePort.ExternallyAccessible: judged per port and family, from the
    /// frontends that actually exist (not from the Service type).
    var externallyAccessible: Bool { nodePort != nil || !loadBalancerIPs.isEmpty || !externalIPs.isEmpty }
    /// Cluster endpoints are needed for iTP Cluster, and for eTP Local's short circuit of
    /// traffic from pods and from the node to external addresses.
    var usesClusterEndpoints: Bool { !internalPolicyLocal || externallyAccessible }
    var usesLocalEndpoints: Bool { internalPolicyLocal || (externalPolicyLocal && externallyAccessible) }
}

enum ServiceParser {
    /// The default of `sessionAffinityConfig.clientIP.timeoutSeconds` (v1.DefaultClientIPServiceAffinitySeconds).
    static let defaultAffinityTimeout: UInt32 = 10800
    static let maxAffinityTimeout: UInt32 = 86400

    /// kube-proxy's label selector, plus Sluice's `--proxy-name`: without a proxy name only
    /// unlabelled Services; with one, only Services labelled with it.
    static func isSelected(_ meta: ObjectMeta, proxyName: String?) -> Bool {
        if meta.label(ProxyLabel.headless) != nil { return false }
        return meta.label(ProxyLabel.serviceProxyName) == proxyName
    }

    /// Every port × family the Service is proxied on, sorted; empty for Services kube-proxy
    /// skips (not selected, ExternalName, headless). Malformed fields are reported and
    /// skipped one by one.
    static func frontends(_ service: Service, proxyName: String?, sink: inout DiagnosticSink) -> [ServiceFrontend] {
        let spec = service.spec
        let meta = service.metadata
        guard isSelected(meta, proxyName: proxyName) else { return [] }
        // The API server admits only these names; one that is not can only come from a file,
        // and would make a misleading (cut) comment in the ruleset.
        guard Names.isDNS1035Label(meta.name) else {
            sink.report("metadata.name", meta.name, "not a Service name (a DNS-1035 label of at most 63 characters); Service skipped")
            return []
        }
        guard Names.isDNS1123Label(meta.namespace ?? "") else {
            sink.report("metadata.namespace", meta.namespace ?? "", "not a namespace name (a DNS-1123 label of at most 63 characters); Service skipped")
            return []
        }
        // proxyutil.ShouldSkipService: no ClusterIP ("" or "None") or ExternalName.
        let type = spec.type ?? "ClusterIP"
        if type == "ExternalName" { return [] }
        let primary = spec.clusterIP ?? spec.clusterIPs?.first ?? ""
        if primary.isEmpty || primary == "None" { return [] }

        let clusterIPs = clusterIPsByFamily(spec, primary: primary, sink: &sink)
        if clusterIPs.isEmpty { return [] }

        // apiservice.ExternallyAccessible / ExternalPolicyLocal / InternalPolicyLocal /
        // NeedsHealthCheck: these are judged on the Service type, not per port.
        let externallyAccessible = type == "LoadBalancer" || type == "NodePort"
            || (type == "ClusterIP" && !(spec.externalIPs ?? []).isEmpty)
        let externalPolicyLocal = externallyAccessible && spec.externalTrafficPolicy == "Local"
        let internalPolicyLocal = spec.internalTrafficPolicy == "Local"

        var affinity: UInt32?
        if spec.sessionAffinity == "ClientIP" {
            affinity = defaultAffinityTimeout
            if let t = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds {
                if t >= 1, UInt32(t) <= maxAffinityTimeout {
                    affinity = UInt32(t)
                } else {
                    sink.report("spec.sessionAffinityConfig.clientIP.timeoutSeconds", String(t),
                                "must be 1…86400; using 10800")
                }
            }
        }

        // apiservice.NeedsHealthCheck: only LoadBalancers with eTP Local; kube-proxy logs an
        // error when the port is missing and serves no health check.
        var healthCheckNodePort: UInt16?
        if type == "LoadBalancer", externalPolicyLocal {
            let p = spec.healthCheckNodePort ?? 0
            if let port = portNumber(p) {
                healthCheckNodePort = port
            } else {
                sink.report("spec.healthCheckNodePort", String(p), "not a port number; no health check server")
            }
        }

        let externalIPs = addresses(spec.externalIPs ?? [], field: "spec.externalIPs", sink: &sink)
        // kube-proxy trims the ranges (validation lets whitespace through) and ignores bad ones.
        var sourceRanges: [IPPrefix] = []
        for (i, raw) in (spec.loadBalancerSourceRanges ?? []).enumerated() {
            let text = trimmed(Substring(raw))
            if text.contains("/"), let prefix = IPPrefix(text) {
                sourceRanges.append(prefix)
            } else {
                sink.report("spec.loadBalancerSourceRanges[\(i)]", raw, "not a CIDR; ignored")
            }
        }
        // Only VIP-mode ingress IPs (ipMode absent or VIP): with ipMode Proxy the load
        // balancer delivers to the node itself and kube-proxy installs nothing for the IP.
        var ingressIPs: [IPAddress] = []
        for (i, ingress) in (service.status?.loadBalancer?.ingress ?? []).enumerated() {
            guard let text = ingress.ip, !text.isEmpty, ingress.ipMode == nil || ingress.ipMode == "VIP" else { continue }
            if let ip = IPAddress(text) {
                ingressIPs.append(ip)
            } else {
                sink.report("status.loadBalancer.ingress[\(i)].ip", text, "not an IP address; ignored")
            }
        }

        var out: [ServiceFrontend] = []
        var seenPorts: Set<ServicePortName> = []
        for (i, sp) in spec.ports.enumerated() {
            let name = ServicePortName(namespace: meta.namespace ?? "", name: meta.name, port: sp.name,
                                       protocol: L4Protocol(sp.protocol))
            guard let port = portNumber(sp.port) else {
                sink.report("spec.ports[\(i)].port", String(sp.port), "not a port number 1…65535; port skipped")
                continue
            }
            var nodePort: UInt16?
            if let np = sp.nodePort, np != 0 {
                guard let n = portNumber(np) else {
                    sink.report("spec.ports[\(i)].nodePort", String(np), "not a port number 1…65535; port skipped")
                    continue
                }
                nodePort = n
            }
            guard seenPorts.insert(name).inserted else {
                sink.report("spec.ports[\(i)]", sp.name, "a port with this name and protocol exists already; skipped")
                continue
            }
            for (family, clusterIP) in clusterIPs {
                out.append(ServiceFrontend(
                    name: name, family: family, clusterIP: clusterIP, port: port, nodePort: nodePort,
                    externalIPs: externalIPs.filter { IPFamily($0) == family },
                    loadBalancerIPs: ingressIPs.filter { IPFamily($0) == family },
                    loadBalancerSourceRanges: sourceRanges.filter { IPFamily($0.address) == family },
                    affinityTimeoutSeconds: affinity, externalPolicyLocal: externalPolicyLocal,
                    internalPolicyLocal: internalPolicyLocal, healthCheckNodePort: healthCheckNodePort))
            }
        }
        return out.sorted { ($0.name, $0.family.rawValue) < ($1.name, $1.family.rawValue) }
    }

    /// proxyutil.GetClusterIPByFamily: `clusterIPs[i]` is the address of `ipFamilies[i]`.
    /// Objects written by hand often carry only `clusterIP` (the API server fills in the
    /// rest), so absent lists are derived from it.
    static func clusterIPsByFamily(_ spec: ServiceSpec, primary: String, sink: inout DiagnosticSink) -> [(IPFamily, IPAddress)] {
        let texts = spec.clusterIPs ?? [primary]
        var out: [(IPFamily, IPAddress)] = []
        for (i, text) in texts.enumerated() {
            guard let ip = IPAddress(text) else {
                sink.report(spec.clusterIPs == nil ? "spec.clusterIP" : "spec.clusterIPs[\(i)]", text,
                            "not an IP address; this family is not proxied")
                continue
            }
            let family = IPFamily(ip)
            if let families = spec.ipFamilies, i < families.count, families[i] != family.rawValue {
                sink.report("spec.ipFamilies[\(i)]", families[i], "does not match cluster IP \(text); this family is not proxied")
                continue
            }
            if out.contains(where: { $0.0 == family }) {
                sink.report("spec.clusterIPs[\(i)]", text, "a second \(family.rawValue) cluster IP; ignored")
                continue
            }
            out.append((family, ip))
        }
        return out
    }

    static func addresses(_ texts: [String], field: String, sink: inout DiagnosticSink) -> [IPAddress] {
        var out: [IPAddress] = []
        for (i, text) in texts.enumerated() {
            if let ip = IPAddress(text) {
                out.append(ip)
            } else {
                sink.report("\(field)[\(i)]", text, "not an IP address; ignored")
            }
        }
        return out
    }

    static func portNumber(_ p: Int32) -> UInt16? { (1...65535).contains(p) ? UInt16(p) : nil }
}

extension L4Protocol {
    init(_ p: PortProtocol) {
        switch p {
        case .tcp: self = .tcp
        case .udp: self = .udp
        case .sctp: self = .sctp
        }
    }
}
