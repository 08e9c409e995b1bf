import ArgumentParser
import Foundation
import NetworkTypes
import NFTables
import ProxyCore
import Yams

/// The node's configuration, as flags and as a config file in the spirit of
/// KubeProxyConfiguration. Flags override the file.
struct NodeOptions: ParsableArguments {
    @Option(help: "A YAML config file (nodeName, nodeIPs, zone, clusterCIDRs, serviceCIDRs, nodePortAddresses, masqueradeAll, masqueradeBit, proxyName).")
    var config: String?

    @Option(name: [.customLong("hostname-override"), .customLong("node-name")],
            help: "This node's name (endpoints with this nodeName are local; default: the host name).")
    var nodeName: String?

    @Option(help: "A node IP (repeat for dual-stack).")
    var nodeIP: [String] = []

    @Option(help: "This node's zone (topology hints).")
    var zone: String?

    @Option(help: "A cluster (pod) CIDR: ClusterIP traffic from outside it is masqueraded. Repeatable or comma-separated.")
    var clusterCIDR: [String] = []

    @Option(help: "A Service CIDR: traffic to an address in it that no Service has is dropped. Repeatable or comma-separated.")
    var serviceCIDR: [String] = []

    @Option(help: "An address NodePorts answer on (default: every local address). Repeatable.")
    var nodePortAddress: [String] = []

    @Flag(help: "Masquerade all traffic to Services.")
    var masqueradeAll = false

    @Option(help: "The bit of the packet mark that asks for masquerade (kube-proxy's masqueradeBit).")
    var masqueradeBit: Int?

    @Option(help: "Handle only Services labelled service.kubernetes.io/service-proxy-name=<name>.")
    var proxyName: String?

    struct File: Decodable {
        var nodeName: String?
        var nodeIPs: [String]?
        var zone: String?
        var clusterCIDRs: [String]?
        var clusterCIDR: String?
        var serviceCIDRs: [String]?
        var serviceCIDR: String?
        var nodePortAddresses: [String]?
        var masqueradeAll: Bool?
        var masqueradeBit: Int?
        var proxyName: String?
    }

    /// The effective node context; errors name the flag or config key and the value.
    func context() throws -> NodeContext {
        var file = File()
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else {
                throw ValidationError("cannot read the config file \(config)")
            }
            do {
                file = try YAMLDecoder().decode(File.self, from: String(decoding: data, as: UTF8.self))
            } catch {
                throw ValidationError("config file \(config): \(error)")
            }
        }
        func addresses(_ values: [String], _ what: String) throws -> [IPAddress] {
            try values.flatMap { $0.split(separator: ",") }.map { v in
                guard let a = IPAddress(String(v).trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("\(what): '\(v)' is not an IP address")
                }
                return a
            }
        }
        func prefixes(_ values: [String], _ what: String) throws -> [IPPrefix] {
            try values.flatMap { $0.split(separator: ",") }.map { v in
                guard let p = IPPrefix(String(v).trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("\(what): '\(v)' is not a CIDR")
                }
                return p
            }
        }
        let cidrs = try prefixes(!clusterCIDR.isEmpty ? clusterCIDR : (file.clusterCIDRs ?? file.clusterCIDR.map { [$0] } ?? []),
                                 "cluster CIDR")
        let serviceCIDRs = try prefixes(!serviceCIDR.isEmpty ? serviceCIDR : (file.serviceCIDRs ?? file.serviceCIDR.map { [$0] } ?? []),
                                        "service CIDR")
        let bit = masqueradeBit ?? file.masqueradeBit ?? 14
        guard (0...31).contains(bit) else { throw ValidationError("masquerade bit: \(bit) is not 0…31") }
        return NodeContext(
            nodeName: nodeName ?? file.nodeName ?? ProcessInfo.processInfo.hostName,
            zone: zone ?? file.zone,
            nodeIPs: try addresses(nodeIP.isEmpty ? file.nodeIPs ?? [] : nodeIP, "node IP"),
            clusterCIDRs: cidrs,
            nodePortAddresses: try addresses(nodePortAddress.isEmpty ? file.nodePortAddresses ?? [] : nodePortAddress, "node-port address"),
            masqueradeAll: masqueradeAll || (file.masqueradeAll ?? false),
            masqueradeMark: UInt32(1) << UInt32(bit),
            proxyName: proxyName ?? file.proxyName,
            serviceCIDRs: serviceCIDRs
        )
    }
}
