import Netfilter
import NetworkTypes
import NFTables
import Proxier
import ProxyCore

/// What the nftables backend needs of the kernel: send a batch, read tables back.
/// `NFTablesConnection` is the kernel; `InMemoryNFTables` stands in for it in tests.
public protocol NFTablesKernel: AnyObject {
    /// Sends `transaction` as one batch: all of it applies, or none of it.
    func apply(_ transaction: Transaction) throws
    /// The tables named (nil: every table), with their chains, rules, sets and elements.
    func ruleset(tables: Set<TableID>?) throws -> Ruleset
}

extension NFTablesConnection: NFTablesKernel {}

/// The nftables backend: Sluice's layout (`Layout`), programmed through netlink.
///
/// It owns the proxier (what the kernel holds, per service port), the connection, and UDP
/// conntrack cleanup after each accepted transaction. A transaction the kernel refuses
/// changes nothing, in the kernel (batches are atomic) or here (the proxier forgets the
/// update), and the error goes to the caller.
public final class NFTablesBackend: ProxyBackend {
    public let mode = "nftables"
    public let families: [IPFamily]
    private let kernel: any NFTablesKernel
    private let conntrack: (any ConntrackCleaning)?
    private var proxier: NFTProxier
    /// A new node configuration, used from the next full sync on.
    private var pendingOptions: ProxierOptions?

    /// `kernel` defaults to a netlink connection in the caller's network namespace;
    /// `conntrack` nil: no conntrack cleanup (dry runs, tests without conntrack).
    public init(node: NodeContext, families: [IPFamily] = [.v4, .v6], kernel: (any NFTablesKernel)? = nil,
                conntrack: (any ConntrackCleaning)? = ConntrackTool()) throws {
        self.families = families
        self.kernel = try kernel ?? NFTablesConnection()
        self.conntrack = conntrack
        proxier = NFTProxier(families: families, options: ProxierOptions(node))
    }

    /// The tables this backend owns.
    public var tableIDs: Set<TableID> { proxier.tableIDs }

    /// What the backend believes the kernel holds.
    public var believedRuleset: Ruleset { proxier.currentRuleset }

    public func configure(_ node: NodeContext) {
        let options = ProxierOptions(node)
        pendingOptions = options == proxier.options ? nil : options
    }

    public func fullSync(_ ports: [ServicePortInfo]) throws -> SyncReport {
        let clock = ContinuousClock()
        let t0 = clock.now
        let live = try kernel.ruleset(tables: proxier.tableIDs)
        let t1 = clock.now
        let saved = proxier
        if let options = pendingOptions { proxier = NFTProxier(families: families, options: options) }
        let t = proxier.fullSync(ports, live: live)
        let t2 = clock.now
        do {
            if !t.isEmpty { try kernel.apply(t) }
        } catch {
            proxier = saved
            throw error
        }
        let t3 = clock.now
        pendingOptions = nil
        var warnings = proxier.conflicts.map { "warning: \($0)" }
        // UDP has no connection to end: entries made through the old rules would keep sending a
        // client's datagrams to endpoints the Service no longer has (kube-proxy deletes them too).
        warnings += clean(ConntrackFlow.stale(live: live, desired: proxier.currentRuleset))
        var report = SyncReport(kind: .full, commands: t.commands.count, warnings: warnings)
        report.planning = t2 - t1
        report.kernel = (t1 - t0) + (t3 - t2)
        return report
    }

    public func sync(_ changes: [ServicePortChange]) throws -> SyncReport {
        let kernel = self.kernel
        let clock = ContinuousClock()
        var sent = Duration.zero
        let t0 = clock.now
        let t = try proxier.update(changes.map { ($0.key, $0.current) }) { t in
            guard !t.isEmpty else { return }
            let start = clock.now
            try kernel.apply(t)
            sent = clock.now - start
        }
        let planning = clock.now - t0 - sent
        var warnings = proxier.conflicts.map { "warning: \($0)" }
        var stale: [ConntrackFlow] = []
        for c in changes {
            stale += ConntrackFlow.stale(old: c.previous, new: c.current)
            if let current = c.current { stale += ConntrackFlow.revived(old: c.previous, new: current) }
        }
        warnings += clean(stale)
        var report = SyncReport(kind: .partial, commands: t.commands.count, warnings: warnings)
        report.planning = planning
        report.kernel = sent
        return report
    }

    public func repair() throws -> SyncReport {
        let live = try kernel.ruleset(tables: proxier.tableIDs)
        let kernel = self.kernel
        let t = try proxier.repair(live: live) { t in try kernel.apply(t) }
        return SyncReport(kind: .repair, commands: t.commands.count)
    }

    public func plan(_ ports: [ServicePortInfo], against baseline: PlanBaseline) throws -> Plan {
        let live = baseline == .live ? try kernel.ruleset(tables: proxier.tableIDs) : Ruleset()
        let want = NFTProxier.desiredRuleset(ports, families: families, options: pendingOptions ?? proxier.options, live: live)
        let t = Ruleset.diff(from: live.restricted(to: proxier.tableIDs), to: want)
        return Plan(commands: t.commands.count, text: t.nftText)
    }

    public func cleanUp() throws -> Int {
        var t = Transaction()
        for table in try kernel.ruleset(tables: proxier.tableIDs).tables { t.append(.deleteTable(table.id)) }
        if !t.isEmpty { try kernel.apply(t) }
        proxier.reset()
        return t.commands.count
    }

    private func clean(_ flows: [ConntrackFlow]) -> [String] {
        guard let conntrack, !flows.isEmpty else { return [] }
        return conntrack.clean(flows).map { flow, message in
            "warning: could not delete the conntrack entries of \(flow): \(message)"
        }
    }
}
