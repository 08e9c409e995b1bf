import NetworkTypes
import NFTables
import ProxyCore

/// The nftables proxier: renders service ports into the layout (see `Layout`) and keeps, per
/// service port, what it contributed, so that a change to one Service becomes a transaction
/// about that Service alone: element deletes and adds, and a class chain the first time a
/// slot count appears. Not thread-safe: the agent's sync loop owns it.
public struct NFTProxier: Sendable {
    public let families: [IPFamily]
    public let options: ProxierOptions

    private var contributions: [ServicePortKey: Contribution] = [:]
    /// Every element in the kernel, per set, with the service ports that want it.
    private var stores: [SetRef: ElementStore] = [:]
    private var classChains: [IPFamily: [Layout.ClassChain: Int]] = [:]
    /// Class chains no service port uses any more; deleted by the next sync, once no element
    /// in the kernel jumps to them.
    private var unusedChains: Set<ChainID> = []
    /// ClientIP affinity's sets and slot chains, shared by every affinity class chain of a
    /// family: made when first needed, removed by the next full sync once unused.
    private var affinity: [IPFamily: AffinityParts] = [:]

    struct AffinityParts: Sendable {
        var sets = 0
        var chains: Set<Layout.AffinitySlot> = []
    }

    /// What an update changed, as it was before: kept until the kernel accepts the update's
    /// transaction, and put back if it refuses, so that the proxier believes what the kernel
    /// holds. Per touched key, not per Service: its size is the update's.
    private struct Journal: Sendable {
        var contributions: [ServicePortKey: Contribution?] = [:]
        var elements: [SetRef: [KeyBytes: ElementStore.Slot?]] = [:]
        var classChains: [IPFamily: [Layout.ClassChain: Int]]
        var unusedChains: Set<ChainID>
        var affinity: [IPFamily: AffinityParts]

        mutating func note(_ key: ServicePortKey, _ old: Contribution?) {
            if contributions.index(forKey: key) == nil { contributions[key] = .some(old) }
        }

        mutating func note(_ set: SetRef, _ key: [UInt8], in store: ElementStore?) {
            let k = KeyBytes(key)
            if elements[set]?.index(forKey: k) == nil { elements[set, default: [:]][k] = .some(store?.slot(key)) }
        }
    }
    private var journal: Journal?

    public init(families: [IPFamily] = [.v4, .v6], options: ProxierOptions = ProxierOptions()) {
        self.families = families
        self.options = options
    }

    public var tableIDs: Set<TableID> { Set(families.map(Layout.table)) }

    /// Frontends that two service ports claimed in the last `update` or `fullSync`: the first
    /// keeps it, the other is ignored until the first lets go (then it takes over).
    public private(set) var conflicts: [FrontendConflict] = []

    /// The whole desired ruleset for these service ports (for a full sync or `sluice diff`).
    /// Backend slots stay where `live` has them, so only real changes show.
    public static func desiredRuleset(_ ports: [ServicePortInfo], families: [IPFamily], options: ProxierOptions,
                                      live: Ruleset = Ruleset()) -> Ruleset {
        var p = NFTProxier(families: families, options: options)
        let history = Self.history(of: live)
        _ = p.record(ports.map { ($0.key, $0) }, history: history.isEmpty ? nil : { history[$0] }, collectDelta: false)
        return p.currentRuleset
    }

    /// The backend elements' values in a ruleset read back from the kernel.
    static func history(of live: Ruleset) -> [ElementRef: [UInt8]] {
        var out: [ElementRef: [UInt8]] = [:]
        for set in live.sets where set.table.name == Layout.tableName
            && (set.name == Layout.backends || set.name == Layout.nodePortBackends) {
            let family: IPFamily = set.table.family == .ip6 ? .v6 : .v4
            for e in set.elements {
                if case .value(let v)? = e.data { out[ElementRef(family: family, set: set.name, key: e.key)] = v }
            }
        }
        return out
    }

    /// What this proxier believes the kernel holds.
    public var currentRuleset: Ruleset {
        var r = Ruleset(tables: Skeleton.tables(families))
        for fam in families {
            r.chains += Skeleton.chains(fam)
            var sets = Skeleton.sets(fam, options: options)
            for i in sets.indices {
                // The store's array as it is (shared, not copied element by element).
                guard let stored = stores[SetRef(family: fam, set: sets[i].name)]?.elements else { continue }
                if sets[i].elements.isEmpty { sets[i].elements = stored } else { sets[i].elements += stored }
            }
            r.sets += sets
            r.rules += Skeleton.rules(fam, options: options)
            let parts = affinity[fam] ?? AffinityParts()
            r.sets += (0..<parts.sets).map { Skeleton.affinitySet($0, fam) }
            for s in parts.chains.sorted() {
                let (chain, rules) = Skeleton.affinitySlotChain(s, fam)
                r.chains.append(chain)
                r.rules += rules
            }
            for cc in (classChains[fam] ?? [:]).keys.sorted() {
                let (chain, rules) = Skeleton.classChain(cc, fam, options: options)
                r.chains.append(chain)
                r.rules += rules
            }
        }
        return r
    }

    /// Records the new state of the given service ports (nil: removed) and hands the
    /// transaction that takes the kernel there to `commit` (which sends it). When `commit`
    /// throws — the kernel refused the batch and, the batch being atomic, still holds what it
    /// held — the proxier forgets the update, so that it still believes what the kernel holds.
    @discardableResult
    public mutating func update<E: Error>(
        _ changes: [(ServicePortKey, ServicePortInfo?)], commit: (Transaction) throws(E) -> Void
    ) throws(E) -> Transaction {
        journal = Journal(classChains: classChains, unusedChains: unusedChains, affinity: affinity)
        let t = update(changes)
        do {
            try commit(t)
        } catch {
            rollback()
            throw error
        }
        journal = nil
        return t
    }

    /// Puts back what the journal saw before the update.
    private mutating func rollback() {
        guard let j = journal else { return }
        journal = nil
        for (key, old) in j.contributions { contributions[key] = old }
        for (set, slots) in j.elements {
            for (key, slot) in slots { stores[set, default: ElementStore()].restore(key.bytes, slot) }
        }
        classChains = j.classChains
        unusedChains = j.unusedChains
        affinity = j.affinity
        conflicts = []
    }

    /// Records the new state of the given service ports (nil: removed) and returns the
    /// transaction that takes the kernel there, sized by what changed. The caller must send
    /// it: from now on the proxier believes the kernel holds it (`update(_:commit:)` forgets
    /// the update when sending fails).
    public mutating func update(_ changes: [(ServicePortKey, ServicePortInfo?)]) -> Transaction {
        var t = Transaction()
        conflicts = []
        // Chains left unused by the previous sync: nothing refers to them any more.
        for id in unusedChains.sorted() {
            t.append(.flushChain(id))
            t.append(.deleteChain(id))
        }
        unusedChains = []
        let delta = record(changes)
        for (fam, slot) in delta.newAffinitySets { t.add(Skeleton.affinitySet(slot, fam)) }
        for (fam, s) in delta.newAffinitySlots {
            let (chain, rules) = Skeleton.affinitySlotChain(s, fam)
            t.add(chain)
            for r in rules { t.add(r) }
        }
        for (fam, cc) in delta.newChains.sorted(by: { ($0.0.rawValue, $0.1) < ($1.0.rawValue, $1.1) }) {
            let id = ChainID(Layout.table(fam), cc.name)
            // Left by one port and taken by another in this same sync: still in the kernel.
            if unusedChains.remove(id) != nil { continue }
            let (chain, rules) = Skeleton.classChain(cc, fam, options: options)
            t.add(chain)
            for r in rules { t.add(r) }
        }
        // Deletes before adds: a changed element is deleted and re-added in the same batch.
        for (fam, set, els) in grouped(delta.deletes) { t.delete(els, from: set, in: Layout.table(fam)) }
        for (fam, set, els) in grouped(delta.adds) { t.add(els, to: set, in: Layout.table(fam)) }
        return t
    }

    private struct Delta {
        var deletes: [ElementRef: SetElement] = [:]
        var adds: [ElementRef: SetElement] = [:]
        var newChains: [(IPFamily, Layout.ClassChain)] = []
        var newAffinitySets: [(IPFamily, Int)] = []
        var newAffinitySlots: [(IPFamily, Layout.AffinitySlot)] = []
    }

    /// Updates the per-port contributions and the element reference counts; returns what the
    /// kernel must lose and gain.
    private mutating func record(
        _ changes: [(ServicePortKey, ServicePortInfo?)], history: ((ElementRef) -> [UInt8]?)? = nil, collectDelta: Bool = true
    ) -> Delta {
        var delta = Delta()
        for (key, info) in changes {
            guard families.contains(key.family) else { continue }
            let old = contributions[key] ?? .empty
            let past: ((ElementRef) -> [UInt8]?)? = history ?? (old.elements.isEmpty ? nil : { old.history($0) })
            let new = info.map { Contribution($0, options: options, history: past) } ?? .empty
            if old == new { continue }
            journal?.note(key, contributions[key])
            contributions[key] = info == nil ? nil : new
            for cc in new.classChains where !old.classChains.contains(cc) {
                let n = classChains[key.family, default: [:]][cc, default: 0]
                if n == 0 {
                    delta.newChains.append((key.family, cc))
                    if cc.affinity != nil { noteAffinity(cc, key.family, &delta) }
                }
                classChains[key.family, default: [:]][cc] = n + 1
            }
            for cc in old.classChains where !new.classChains.contains(cc) {
                let n = (classChains[key.family]?[cc] ?? 1) - 1
                classChains[key.family]?[cc] = n == 0 ? nil : n
                if n == 0 { unusedChains.insert(ChainID(Layout.table(key.family), cc.name)) }
            }
            for entry in old.elements where new.element(for: entry.ref) != entry.element {
                let ref = entry.ref
                let set = SetRef(family: ref.family, set: ref.set)
                journal?.note(set, ref.key, in: stores[set])
                switch stores[set]?.release(ref.key, entry.element) {
                case .removed(let active)?:
                    delta.deletes[ref] = active
                    delta.adds[ref] = nil
                case .replaced(let active, let next)?:
                    // The owner left: the next claimant's element takes the key.
                    delta.deletes[ref] = active
                    delta.adds[ref] = next
                case .kept?, nil:
                    break
                }
            }
            for item in new.elements where old.elements.isEmpty || old.element(for: item.ref) != item.element {
                let (ref, el) = (item.ref, item.element)
                // Another service port may own this key already (a shared hairpin entry, or a
                // conflicting frontend: the first owner keeps it).
                let set = SetRef(family: ref.family, set: ref.set)
                journal?.note(set, ref.key, in: stores[set])
                switch stores[set, default: ElementStore()].add(ref.key, el) {
                case .shadowed(let owner):
                    if Layout.frontendSets.contains(ref.set) {
                        conflicts.append(FrontendConflict(family: ref.family, set: ref.set, key: ref.key,
                                                          owner: owner.comment ?? "", ignored: el.comment ?? ""))
                    }
                case .shared:
                    break
                case .added:
                    guard collectDelta else { continue }
                    if let gone = delta.deletes[ref], gone == el {
                        delta.deletes[ref] = nil
                    } else {
                        delta.adds[ref] = el
                    }
                }
            }
        }
        return delta
    }

    /// Makes sure the affinity sets and slot chains `cc` goes to exist.
    private mutating func noteAffinity(_ cc: Layout.ClassChain, _ family: IPFamily, _ delta: inout Delta) {
        var parts = affinity[family] ?? AffinityParts()
        while parts.sets < cc.slots {
            delta.newAffinitySets.append((family, parts.sets))
            parts.sets += 1
        }
        for s in cc.affinitySlots where parts.chains.insert(s).inserted {
            delta.newAffinitySlots.append((family, s))
        }
        affinity[family] = parts
    }

    private func grouped(_ m: [ElementRef: SetElement]) -> [(IPFamily, String, [SetElement])] {
        var by: [SetRef: [SetElement]] = [:]
        for (ref, el) in m { by[SetRef(family: ref.family, set: ref.set), default: []].append(el) }
        return by.keys.sorted().map { k in
            (k.family, k.set, (by[k] ?? []).sorted { $0.key.lexicographicallyPrecedes($1.key) })
        }
    }

    /// Full sync: forgets what it knew, takes `ports` as the whole desired state, and returns the
    /// transaction that turns what the kernel holds (`live`, read back) into exactly that.
    public mutating func fullSync(_ ports: [ServicePortInfo], live: Ruleset) -> Transaction {
        reset()
        contributions.reserveCapacity(ports.count)
        // Room for the elements almost every port has, so that no store grows (and rehashes) on the way.
        for family in families {
            let n = ports.lazy.filter { $0.family == family }.count
            guard n > 0 else { continue }
            for (set, perPort) in [(Layout.serviceIPs, 1), (Layout.clusterIPs, 1), (Layout.backends, 2)] {
                stores[SetRef(family: family, set: set), default: ElementStore()].reserveCapacity(n * perPort)
            }
        }
        let history = Self.history(of: live)
        _ = record(ports.map { ($0.key, $0) }, history: history.isEmpty ? nil : { history[$0] }, collectDelta: false)
        unusedChains = []
        let ours = live.restricted(to: tableIDs)
        if ours.tables.isEmpty {
            // Nothing of ours in the kernel: add everything, no diff needed.
            return Transaction.adding(currentRuleset)
        }
        return Ruleset.diff(from: ours, to: currentRuleset)
    }

    /// Drift repair: hands `commit` the transaction that turns `live` (read back from the
    /// kernel) into what the proxier believes it holds, unless they already match. Chains
    /// waiting to be deleted go with it.
    @discardableResult
    public mutating func repair<E: Error>(live: Ruleset, commit: (Transaction) throws(E) -> Void) throws(E) -> Transaction {
        let t = Ruleset.diff(from: live.restricted(to: tableIDs), to: currentRuleset)
        if !t.isEmpty { try commit(t) }
        unusedChains = []
        return t
    }

    /// Forgets everything: the next `update` with all ports, after a full sync, starts afresh.
    public mutating func reset() {
        conflicts = []
        contributions = [:]
        stores = [:]
        classChains = [:]
        unusedChains = []
        affinity = [:]
        journal = nil
    }
}

struct SetRef: Hashable, Comparable, Sendable {
    var family: IPFamily
    var set: String

    // A handful of sets: their names' lengths tell them apart well enough, at no hashing cost.
    func hash(into h: inout Hasher) {
        h.combine(family)
        h.combine(set.utf8.count)
    }
    static func < (a: SetRef, b: SetRef) -> Bool { (a.family.rawValue, a.set) < (b.family.rawValue, b.set) }
}

extension Transaction {
    /// Adds everything in `r`, in an order the kernel accepts: tables, chains (which verdict
    /// elements jump to), sets with their elements, then rules (which refer to sets and chains).
    public static func adding(_ r: Ruleset) -> Transaction {
        var t = Transaction()
        for table in r.tables { t.add(table) }
        for chain in r.chains { t.add(chain) }
        for set in r.sets { t.add(set) }
        for rule in r.rules { t.add(rule) }
        return t
    }
}

/// A frontend two service ports claimed.
public struct FrontendConflict: Hashable, Sendable, CustomStringConvertible {
    public var family: IPFamily
    public var set: String
    public var key: [UInt8]
    /// The service port that keeps the frontend, and the one ignored (element comments).
    public var owner: String
    public var ignored: String

    /// The frontend as an operator writes it: `10.96.0.10 tcp 80`, or `tcp 30080` for a NodePort.
    public var frontend: String {
        let addressLength = set.contains("nodeports") ? 0 : (family == .v6 ? 16 : 4)
        guard key.count >= addressLength + 6 else { return "?" }
        let address: String = switch addressLength {
        case 4: IPv4Address(bytes: Array(key[0..<4])).map { "\($0) " } ?? ""
        case 16: IPv6Address(bytes: Array(key[0..<16])).map { "\($0) " } ?? ""
        default: "node port "
        }
        let proto: String = switch key[addressLength] {
        case 6: "tcp"
        case 17: "udp"
        case 132: "sctp"
        default: "proto \(key[addressLength])"
        }
        return "\(address)\(proto) \(UInt16(key[addressLength + 4]) << 8 | UInt16(key[addressLength + 5]))"
    }

    public var description: String {
        "\(ignored): \(frontend) is already \(owner)'s; ignored while \(owner) has it"
    }
}
