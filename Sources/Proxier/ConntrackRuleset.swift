import NetworkTypes
import NFTables
import ProxyCore

/// Stale UDP conntrack entries learnt from two rulesets rather than from service ports: what a
/// one-shot `sluice apply` knows is the live ruleset it replaces, whose backend maps say where
/// each UDP frontend sent its clients.
extension ConntrackFlow {
    /// The UDP translations `live` makes and `desired` no longer makes: for each UDP frontend of
    /// Sluice's @backends and @nodeport-backends (every slot, short-circuit slots included), an
    /// entry for each endpoint it had in `live` and has not in `desired` (all of them when the
    /// frontend is gone). And every entry to a UDP frontend that gets endpoints now and had none
    /// (kube-proxy does the same): a client that sent before the Service existed has an entry
    /// without dnat that would keep its datagrams away from the endpoints. Not on the first
    /// sync of a node (`live` without Sluice's tables): nothing of ours made those entries.
    public static func stale(live: Ruleset, desired: Ruleset) -> [ConntrackFlow] {
        let before = udpTranslations(live), after = udpTranslations(desired)
        var out: Set<ConntrackFlow> = []
        for (frontend, endpoints) in before {
            for endpoint in endpoints.subtracting(after[frontend] ?? []) {
                out.insert(ConntrackFlow(frontend: frontend.address, port: frontend.port, endpoint: endpoint))
            }
        }
        let ours = Set(live.tables.filter { $0.name == Layout.tableName }.map(\.family))
        for frontend in after.keys where before[frontend] == nil && ours.contains(frontend.family) {
            out.insert(ConntrackFlow(frontend: frontend.address, port: frontend.port, endpoint: nil,
                                     family: frontend.address == nil ? (frontend.family == .ip6 ? IPFamily.v6 : .v4) : nil))
        }
        return out.sorted()
    }

    private struct Frontend: Hashable {
        var family: Family
        /// nil for a NodePort.
        var address: IPAddress?
        var port: UInt16
    }

    /// UDP frontend → the endpoint addresses its slots hold.
    private static func udpTranslations(_ ruleset: Ruleset) -> [Frontend: Set<IPAddress>] {
        var out: [Frontend: Set<IPAddress>] = [:]
        for set in ruleset.sets where set.table.name == Layout.tableName {
            let nodePort: Bool
            switch set.name {
            case Layout.backends: nodePort = false
            case Layout.nodePortBackends: nodePort = true
            default: continue
            }
            let family = set.table.family
            for element in set.elements {
                // Keys: [daddr .] l4proto . dport . slot, each field padded to 4 bytes; data: addr . port.
                guard case .value(let data)? = element.data, let endpoint = address(family, data) else { continue }
                var key = element.key[...]
                var frontend: IPAddress?
                if !nodePort {
                    frontend = address(family, Array(key))
                    key = key.dropFirst(family == .ip6 ? 16 : 4)
                    if frontend == nil { continue }
                }
                guard key.count >= 8, key[key.startIndex] == IPProtocol.udp else { continue }
                let port = UInt16(key[key.startIndex + 4]) << 8 | UInt16(key[key.startIndex + 5])
                out[Frontend(family: family, address: frontend, port: port), default: []].insert(endpoint)
            }
        }
        return out
    }

    /// The address at the start of `bytes`, in the table's family.
    private static func address(_ family: Family, _ bytes: [UInt8]) -> IPAddress? {
        switch family {
        case .ip: IPv4Address(bytes: Array(bytes.prefix(4))).map(IPAddress.v4)
        case .ip6: IPv6Address(bytes: Array(bytes.prefix(16))).map(IPAddress.v6)
        default: nil
        }
    }
}
