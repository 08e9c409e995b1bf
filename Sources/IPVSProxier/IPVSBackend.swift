import Glibc
import IPVS
import NetworkTypes
import Netfilter
import ProxyCore

/// The IPVS backend: programs the kernel's IPVS table and the dummy interface from service
/// ports, in the network namespace of the thread that creates it. Every sync reads the kernel
/// back and sends only the difference, so it also repairs drift (a service deleted by hand, a
/// weight edited with ipvsadm).
///
/// What Sluice owns, and so what a sync may change and `cleanup` removes: the dummy interface
/// `sluice-ipvs0`, every virtual service on an address that interface holds (or is about to
/// hold), and virtual services on the node-port addresses whose port is in the NodePort range.
/// Other virtual services (a hand-made one on another address) are left alone.
///
/// IPVS has no transactions: a failed command leaves the ones before it applied. Commands are
/// ordered so that a live Service keeps serving (new destinations before old ones go, new
/// addresses before services, stale addresses last); after a failure the next sync reads the
/// kernel back and finishes the job.
public final class IPVSBackend {
    public static let dummyInterface = "sluice-ipvs0"

    public let layout: IPVSLayout
    /// The NodePort range (kube-apiserver's --service-node-port-range).
    public var nodePortRange: ClosedRange<UInt16> = 30000...32767
    private let ipvs: IPVSConnection
    private let links: LinkConnection

    public init(layout: IPVSLayout) throws(IPVSError) {
        self.layout = layout
        ipvs = try IPVSConnection()
        do {
            links = try LinkConnection()
        } catch {
            throw IPVSError(kind: .system(error), errno: error.errno)
        }
    }

    /// What a sync would send.
    public struct Plan: Hashable, Sendable {
        public var commands: [IPVSCommand] = []
        public var addressesToAdd: [IPAddress] = []
        public var addressesToRemove: [IPAddress] = []
        public var conflicts: [String] = []

        public var isEmpty: Bool { commands.isEmpty && addressesToAdd.isEmpty && addressesToRemove.isEmpty }

        /// One line per change, `+`/`-`/`~` first: what `sluice diff --backend ipvs` prints.
        public var text: String {
            var out = ""
            for a in addressesToAdd { out += "+ address \(a) dev \(IPVSBackend.dummyInterface)\n" }
            for c in commands {
                switch c {
                case .addService, .addDestination: out += "+ \(c)\n"
                case .editService, .editDestination: out += "~ \(c)\n"
                case .deleteService, .deleteDestination: out += "- \(c)\n"
                }
            }
            for a in addressesToRemove { out += "- address \(a) dev \(IPVSBackend.dummyInterface)\n" }
            return out
        }
    }

    /// The kernel's state as far as Sluice owns it: the dummy's addresses and the owned services.
    public func readBack(wanting addresses: Set<IPAddress> = []) throws(IPVSError) -> (IPVSState, Set<IPAddress>) {
        let dummyAddresses: Set<IPAddress>
        do {
            if let index = try links.index(of: Self.dummyInterface) {
                dummyAddresses = Set(try links.addresses(on: index))
            } else {
                dummyAddresses = []
            }
        } catch {
            throw IPVSError(kind: .system(error), errno: error.errno)
        }
        let live = try ipvs.state()
        let ours = dummyAddresses.union(addresses)
        let nodePortAddresses = Set(layout.node.effectiveNodePortAddresses)
        let owned = live.services.filter { key, _ in
            ours.contains(key.address) || (nodePortAddresses.contains(key.address) && nodePortRange.contains(key.port))
        }
        return (IPVSState(services: owned), dummyAddresses)
    }

    public func plan(_ ports: [ServicePortInfo]) throws(IPVSError) -> Plan {
        let want = layout.desired(ports)
        let (live, liveAddresses) = try readBack(wanting: want.addresses)
        var plan = Plan()
        plan.commands = IPVSState.diff(from: live, to: want.state)
        plan.addressesToAdd = want.addresses.subtracting(liveAddresses).sorted()
        plan.addressesToRemove = liveAddresses.subtracting(want.addresses).sorted()
        plan.conflicts = want.conflicts
        return plan
    }

    /// Brings the kernel to what `ports` want; returns what it sent.
    @discardableResult
    public func sync(_ ports: [ServicePortInfo]) throws(IPVSError) -> Plan {
        let plan = try plan(ports)
        try configureKernel()
        do {
            if !plan.addressesToAdd.isEmpty || !plan.commands.isEmpty {
                let index = try links.ensureDummy(Self.dummyInterface)
                if let (address, error) = try links.change(addresses: plan.addressesToAdd, on: index).first {
                    throw IPVSError(kind: .system(NetfilterError(kind: error.kind, errno: error.errno,
                                                                 object: "\(error.object) (\(address))",
                                                                 kernelMessage: error.kernelMessage)),
                                    errno: error.errno)
                }
            }
        } catch let e as NetfilterError {
            throw IPVSError(kind: .system(e), errno: e.errno)
        } catch let e as IPVSError {
            throw e
        } catch {
            throw IPVSError(kind: .protocolError("\(error)"))
        }
        try ipvs.apply(plan.commands)
        if !plan.addressesToRemove.isEmpty {
            do {
                if let index = try links.index(of: Self.dummyInterface),
                   let (_, error) = try links.change(addresses: plan.addressesToRemove, on: index, delete: true).first {
                    throw IPVSError(kind: .system(error), errno: error.errno)
                }
            } catch let e as NetfilterError {
                throw IPVSError(kind: .system(e), errno: e.errno)
            } catch let e as IPVSError {
                throw e
            } catch {
                throw IPVSError(kind: .protocolError("\(error)"))
            }
        }
        return plan
    }

    /// Removes everything Sluice's IPVS backend owns: its virtual services and the dummy
    /// interface (with its addresses). Returns how many services it deleted.
    @discardableResult
    public func cleanup() throws(IPVSError) -> Int {
        let (live, _) = try readBack()
        try ipvs.apply(live.services.keys.sorted().map { .deleteService($0) })
        do {
            try links.deleteLink(Self.dummyInterface)
        } catch {
            throw IPVSError(kind: .system(error), errno: error.errno)
        }
        return live.services.count
    }

    /// kube-proxy's IPVS sysctls, in this namespace: a removed destination's connections end at
    /// once (clients reconnect to a live one) and a drained destination's persistence templates
    /// expire, so affinity cannot pin a client to it.
    private func configureKernel() throws(IPVSError) {
        for (name, value) in [("expire_nodest_conn", "1"), ("expire_quiescent_template", "1")] {
            let path = "/proc/sys/net/ipv4/vs/\(name)"
            let fd = open(path, O_WRONLY)
            guard fd >= 0 else {
                throw IPVSError(kind: .system(NetfilterError(kind: .system(call: "open"), errno: errno, object: path)), errno: errno)
            }
            defer { close(fd) }
            let written = value.withCString { write(fd, $0, strlen($0)) }
            guard written >= 0 else {
                throw IPVSError(kind: .system(NetfilterError(kind: .system(call: "write"), errno: errno, object: path)), errno: errno)
            }
        }
    }
}
