import KubeModels
import NetworkTypes

/// Which endpoints a service port receives: the slice ports whose name and protocol equal
/// the service port's, in one address family (kube-proxy keys endpoints by ServicePortName
/// built from the slice port, then looks them up with the Service's port).
struct EndpointPortKey: Hashable, Sendable {
    var port: String
    var `protocol`: L4Protocol
    var family: IPFamily
}

enum EndpointSliceMerge {
    /// Whether kube-proxy would look at the slice at all: slices of headless Services are
    /// filtered by its informer selector; FQDN slices by the change tracker.
    static func isSelected(_ slice: EndpointSlice) -> Bool {
        slice.metadata.label(ProxyLabel.headless) == nil && slice.addressType != "FQDN"
    }

    /// The endpoints of one Service's slices per (port name, protocol, family), merged as
    /// kube-proxy's EndpointSliceCache does: one endpoint per address and port, the first
    /// address of each endpoint only, a local copy winning over a remote one, then sorted.
    /// Slices are visited in name order so that duplicates resolve the same way every time
    /// (kube-proxy walks a Go map here).
    static func merge(_ slices: [EndpointSlice], nodeName: String) -> (endpoints: [EndpointPortKey: [Endpoint]], diagnostics: [Diagnostic]) {
        var byPort: [EndpointPortKey: [EndpointID: Endpoint]] = [:]
        var diagnostics: [Diagnostic] = []
        for slice in slices.sorted(by: { $0.metadata.name < $1.metadata.name }) where isSelected(slice) {
            var sink = DiagnosticSink(kind: "EndpointSlice", object: ObjectKey(slice.metadata))
            defer { diagnostics += sink.diagnostics }
            guard Names.isDNS1123Subdomain(slice.metadata.name) else {
                sink.report("metadata.name", slice.metadata.name,
                            "not an EndpointSlice name (a DNS-1123 subdomain of at most 253 characters); slice ignored")
                continue
            }
            let family: IPFamily
            switch slice.addressType {
            case "IPv4": family = .v4
            case "IPv6": family = .v6
            default:
                sink.report("addressType", slice.addressType, "expected IPv4, IPv6 or FQDN; slice ignored")
                continue
            }
            let weight = AnnotationParser.sliceWeight(slice, sink: &sink)
            let endpoints = parseEndpoints(slice, family: family, nodeName: nodeName, weight: weight, sink: &sink)
            for (i, port) in slice.ports.enumerated() {
                // kube-proxy ignores ports without a number (the API's "all ports") or with 0.
                guard let number = port.port, number != 0 else {
                    sink.report("ports[\(i)].port", port.port.map { String($0) } ?? "null", "no port number; port ignored")
                    continue
                }
                guard let p = ServiceParser.portNumber(number) else {
                    sink.report("ports[\(i)].port", String(number), "not a port number 1…65535; port ignored")
                    continue
                }
                let key = EndpointPortKey(port: port.name, protocol: L4Protocol(port.protocol), family: family)
                var set = byPort[key] ?? [:]
                for var ep in endpoints {
                    ep.port = p
                    let id = EndpointID(address: ep.address, port: p)
                    if set[id] == nil || ep.isLocal { set[id] = ep }
                }
                byPort[key] = set
            }
        }
        return (byPort.mapValues { $0.values.sorted(by: EndpointID.order) }, diagnostics)
    }

    /// The slice's endpoints with port 0 (filled in per slice port).
    static func parseEndpoints(_ slice: EndpointSlice, family: IPFamily, nodeName: String, weight: UInt16,
                               sink: inout DiagnosticSink) -> [Endpoint] {
        var out: [Endpoint] = []
        for (i, ep) in slice.endpoints.enumerated() {
            guard let text = ep.addresses.first else {
                sink.report("endpoints[\(i)].addresses", "[]", "no address; endpoint ignored")
                continue
            }
            guard let address = IPAddress(text) else {
                sink.report("endpoints[\(i)].addresses[0]", text, "not an IP address; endpoint ignored")
                continue
            }
            guard IPFamily(address) == family else {
                sink.report("endpoints[\(i)].addresses[0]", text, "not an \(family.rawValue) address; endpoint ignored")
                continue
            }
            let zones = ep.hints?.forZones.map { Set($0.map(\.name)) }
            let nodes = ep.hints?.forNodes.map { Set($0.map(\.name)) }
            var endpoint = Endpoint(
                address: address, port: 0, isLocal: !nodeName.isEmpty && ep.nodeName == nodeName,
                ready: ep.conditions.ready, serving: ep.conditions.serving, terminating: ep.conditions.terminating,
                zoneHints: zones?.isEmpty == false ? zones : nil, nodeHints: nodes?.isEmpty == false ? nodes : nil,
                weight: weight)
            endpoint.onOtherNode = !nodeName.isEmpty && !(ep.nodeName ?? "").isEmpty && ep.nodeName != nodeName
            out.append(endpoint)
        }
        return out
    }
}

/// An endpoint's identity within a service port (kube-proxy's Endpoint.String(): ip:port).
struct EndpointID: Hashable, Sendable {
    var address: IPAddress
    var port: UInt16

    init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    init(_ e: Endpoint) { self.init(address: e.address, port: e.port) }

    /// Address, then port: kube-proxy sorts so that rule output is stable; numeric order
    /// serves the same purpose and reads better.
    static func order(_ a: Endpoint, _ b: Endpoint) -> Bool { (a.address, a.port) < (b.address, b.port) }
}
