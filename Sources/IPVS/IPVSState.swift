/// A whole IPVS table: every virtual service with its destinations. What the kernel holds
/// (read back) and what Sluice wants are both this value; `IPVSState.diff` turns one into the
/// other.
public struct IPVSState: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var service: VirtualService
        public var destinations: [DestinationKey: Destination]

        public init(service: VirtualService, destinations: [Destination] = []) {
            self.service = service
            self.destinations = Dictionary(destinations.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
        }
    }

    public var services: [VirtualServiceKey: Entry]

    public init(services: [VirtualServiceKey: Entry] = [:]) { self.services = services }

    public init(_ entries: [Entry]) {
        services = Dictionary(entries.map { ($0.service.key, $0) }, uniquingKeysWith: { _, last in last })
    }

    public var isEmpty: Bool { services.isEmpty }
    public var destinationCount: Int { services.values.reduce(0) { $0 + $1.destinations.count } }

    public mutating func insert(_ service: VirtualService, destinations: [Destination]) {
        services[service.key] = Entry(service: service, destinations: destinations)
    }

    /// `ipvsadm -Sn`-like text, sorted, one line per service and destination: what tests and
    /// `sluice diff --backend ipvs` compare.
    public var text: String {
        var out = ""
        for key in services.keys.sorted() {
            guard let e = services[key] else { continue }
            out += "\(e.service)\n"
            for dk in e.destinations.keys.sorted() {
                if let d = e.destinations[dk] { out += "  -> \(d)\n" }
            }
        }
        return out
    }
}

/// One change to the kernel's IPVS table.
public enum IPVSCommand: Hashable, Sendable, CustomStringConvertible {
    case addService(VirtualService)
    /// Changes scheduler or persistence of an existing service; its destinations stay.
    case editService(VirtualService)
    /// Deletes the service and all its destinations.
    case deleteService(VirtualServiceKey)
    case addDestination(VirtualServiceKey, Destination)
    case editDestination(VirtualServiceKey, Destination)
    case deleteDestination(VirtualServiceKey, DestinationKey)

    public var serviceKey: VirtualServiceKey {
        switch self {
        case .addService(let s), .editService(let s): s.key
        case .deleteService(let k): k
        case .addDestination(let k, _), .editDestination(let k, _), .deleteDestination(let k, _): k
        }
    }

    /// `add service TCP 10.0.0.1:80 rr`: what failed, in an error.
    public var description: String {
        switch self {
        case .addService(let s): "add virtual service \(s)"
        case .editService(let s): "edit virtual service \(s)"
        case .deleteService(let k): "delete virtual service \(k)"
        case .addDestination(let k, let d): "add destination \(d) to virtual service \(k)"
        case .editDestination(let k, let d): "edit destination \(d) of virtual service \(k)"
        case .deleteDestination(let k, let d): "delete destination \(d) from virtual service \(k)"
        }
    }
}

extension IPVSState {
    /// The commands that turn `live` into `desired`, restricted to `scope` when given (the
    /// services a partial sync is about). Order keeps every live service serving: services
    /// are added and edited first, then destinations added and edited, then old destinations
    /// removed, then services that are no longer wanted. IPVS has no transactions, so this
    /// order is what a failure half-way leaves behind.
    public static func diff(from live: IPVSState, to desired: IPVSState,
                            scope: Set<VirtualServiceKey>? = nil) -> [IPVSCommand] {
        var addsAndEdits: [IPVSCommand] = []
        var destinationAdds: [IPVSCommand] = []
        var destinationDeletes: [IPVSCommand] = []
        var serviceDeletes: [IPVSCommand] = []
        let keys: [VirtualServiceKey] = scope.map { Array($0) } ?? Array(Set(live.services.keys).union(desired.services.keys))
        for key in keys.sorted() {
            let have = live.services[key]
            guard let want = desired.services[key] else {
                if have != nil { serviceDeletes.append(.deleteService(key)) }
                continue
            }
            guard let have else {
                addsAndEdits.append(.addService(want.service))
                for dk in want.destinations.keys.sorted() {
                    if let d = want.destinations[dk] { destinationAdds.append(.addDestination(key, d)) }
                }
                continue
            }
            if have.service != want.service { addsAndEdits.append(.editService(want.service)) }
            for dk in want.destinations.keys.sorted() {
                guard let d = want.destinations[dk] else { continue }
                switch have.destinations[dk] {
                case nil: destinationAdds.append(.addDestination(key, d))
                case let old? where old != d: destinationAdds.append(.editDestination(key, d))
                default: break
                }
            }
            for dk in have.destinations.keys.sorted() where want.destinations[dk] == nil {
                destinationDeletes.append(.deleteDestination(key, dk))
            }
        }
        return addsAndEdits + destinationAdds + destinationDeletes + serviceDeletes
    }

    /// Applies commands to this value as the kernel would (for planners that track what they sent).
    public mutating func apply(_ command: IPVSCommand) {
        switch command {
        case .addService(let s):
            services[s.key] = Entry(service: s)
        case .editService(let s):
            services[s.key]?.service = s
        case .deleteService(let k):
            services[k] = nil
        case .addDestination(let k, let d), .editDestination(let k, let d):
            services[k]?.destinations[d.key] = d
        case .deleteDestination(let k, let dk):
            services[k]?.destinations[dk] = nil
        }
    }
}
