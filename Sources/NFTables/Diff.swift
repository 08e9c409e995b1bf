/// Structural diff: the smallest reasonable transaction that turns one ruleset into another.
extension Ruleset {
    /// The commands that turn `old` into `new`, in an order the kernel accepts within one batch.
    ///
    /// Granularity: tables, chains and sets are added or deleted whole; a set whose definition
    /// is unchanged gets element-level changes; a chain whose rule list changed is flushed and
    /// its rules re-added (rules have no identity but their position). An element whose data,
    /// timeout or comment changed is deleted and added again in the same batch, because the
    /// kernel answers EEXIST to an add over an existing key. A set whose definition changed,
    /// and a chain whose type, hook, priority or comment changed, is deleted and re-created,
    /// with every chain whose rules refer to it flushed and refilled around that (the kernel
    /// refuses to delete what a rule refers to). A base chain whose only change is its policy is
    /// updated in place. Table comments cannot be changed and are left alone. The elements of
    /// `dynamic` sets belong to the packet path (affinity entries added by `update @set`) and
    /// are never diffed: a sync must not forget who was talking to which endpoint.
    ///
    /// Ordering, each step relying on the ones before it:
    /// 1. add new tables;
    /// 2. add new chains, update policies (rules and verdict-map elements may jump to them);
    /// 3. delete removed or changed elements of kept sets, and elements that jump to a chain
    ///    about to be re-created;
    /// 4. flush every chain whose rules change, chains to be re-created or deleted, and chains
    ///    that refer to something re-created;
    /// 5. delete the sets and chains to be re-created (nothing refers to them any more);
    /// 6. add them again, then add the new sets with their elements;
    /// 7. add new and changed elements of kept sets;
    /// 8. add the rules of every flushed (kept) and new chain, in order;
    /// 9. delete removed sets, then removed chains (already empty, and no longer referred to:
    ///    referring rules were flushed in 4, referring elements deleted in 3 or with their set
    ///    in 9), then removed tables, whose contents go with them.
    ///
    /// Rulesets equal after `normalized` give an empty transaction.
    public static func diff(from old: Ruleset, to new: Ruleset) -> Transaction {
        RulesetDiff(old: old.normalized, new: new.normalized).transaction()
    }
}

private struct SetID: Hashable, Comparable {
    var table: TableID
    var name: String
    static func < (a: SetID, b: SetID) -> Bool { (a.table, a.name) < (b.table, b.name) }
}

/// What identifies an element inside its set: its key (and for intervals, which end it is).
private struct ElementID: Hashable {
    var key: [UInt8]
    var keyEnd: [UInt8]?
    var intervalEnd: Bool
    init(_ e: SetElement) {
        key = e.key
        keyEnd = e.keyEnd
        intervalEnd = e.intervalEnd
    }

    // Arrays of bytes hash byte by byte by default; hash them as buffers.
    func hash(into h: inout Hasher) {
        key.withUnsafeBytes { h.combine(bytes: $0) }
        keyEnd?.withUnsafeBytes { h.combine(bytes: $0) }
        h.combine(intervalEnd)
    }
}

private struct RulesetDiff {
    let old: Ruleset
    let new: Ruleset

    func transaction() -> Transaction {
        var tx = Transaction()
        for s in old.sets { tx.know(s) }

        let oldTables = Set(old.tables.map(\.id))
        let newTables = Set(new.tables.map(\.id))
        let oldChains = Dictionary(old.chains.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let newChains = Dictionary(new.chains.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let oldSets = Dictionary(old.sets.map { (SetID(table: $0.table, name: $0.name), $0) }, uniquingKeysWith: { a, _ in a })
        let newSets = Dictionary(new.sets.map { (SetID(table: $0.table, name: $0.name), $0) }, uniquingKeysWith: { a, _ in a })
        let oldRules = old.rulesByChain
        let newRules = new.rulesByChain

        // What changes shape and must be re-created.
        var recreatedChains = Set<ChainID>()
        var policyChanged: [Chain] = []
        for c in new.chains {
            guard let o = oldChains[c.id] else { continue }
            if o == c { continue }
            var withOldPolicy = c
            if let base = o.base { withOldPolicy.base?.policy = base.policy }
            if withOldPolicy == o { policyChanged.append(c) } else { recreatedChains.insert(c.id) }
        }
        let recreatedSets = Set(newSets.compactMap { id, s in oldSets[id].map { $0.definition != s.definition ? id : nil } ?? nil })

        // Chains to flush: changed rules, re-created, removed with rules, or referring to
        // something re-created.
        var flushed = Set<ChainID>()
        for (id, rules) in oldRules where !rules.isEmpty {
            let removed = newChains[id] == nil && newTables.contains(id.table)
            let refers = rules.contains { r in
                r.chainReferences.contains { recreatedChains.contains(ChainID(id.table, $0)) }
                    || r.setReferences.contains { recreatedSets.contains(SetID(table: id.table, name: $0)) }
            }
            if removed || refers || recreatedChains.contains(id) || (newChains[id] != nil && newRules[id] ?? [] != rules) {
                flushed.insert(id)
            }
        }
        flushed = flushed.filter { newTables.contains($0.table) }
        // Kept chains that lost every rule (`nft flush chain`) need no flush, only their rules.
        let emptied = Set(new.chains.lazy.map(\.id).filter { id in
            oldChains[id] != nil && (oldRules[id] ?? []).isEmpty && !(newRules[id] ?? []).isEmpty
        })

        // 1, 2
        for t in new.tables where !oldTables.contains(t.id) { tx.add(t) }
        for c in new.chains where oldChains[c.id] == nil { tx.add(c) }
        for c in policyChanged { tx.add(c) }

        // 3: element deletions in kept sets.
        var elementAdds: [(SetID, [SetElement])] = []
        for id in newSets.keys.sorted() {
            guard let n = newSets[id], let o = oldSets[id], !recreatedSets.contains(id), !n.flags.contains(.dynamic) else { continue }
            let jumpsToRecreated = { (e: SetElement) -> Bool in
                if case .verdict(let v)? = e.data, let c = v.chain { return recreatedChains.contains(ChainID(id.table, c)) }
                return false
            }
            let oldByID = Dictionary(o.elements.map { (ElementID($0), $0) }, uniquingKeysWith: { a, _ in a })
            let newByID = Dictionary(n.elements.map { (ElementID($0), $0) }, uniquingKeysWith: { a, _ in a })
            let deletes = o.elements.filter { e in newByID[ElementID(e)] != e || jumpsToRecreated(e) }
            let adds = n.elements.filter { e in oldByID[ElementID(e)] != e || jumpsToRecreated(e) }
            if !deletes.isEmpty { tx.delete(deletes, from: id.name, in: id.table) }
            if !adds.isEmpty { elementAdds.append((id, adds)) }
        }

        // 4, 5, 6
        for c in old.chains where flushed.contains(c.id) { tx.append(.flushChain(c.id)) }
        for id in recreatedSets.sorted() { tx.append(.deleteSet(id.table, id.name)) }
        for c in old.chains where recreatedChains.contains(c.id) { tx.append(.deleteChain(c.id)) }
        for c in new.chains where recreatedChains.contains(c.id) { tx.add(c) }
        for s in new.sets {
            let id = SetID(table: s.table, name: s.name)
            if oldSets[id] == nil || recreatedSets.contains(id) { tx.add(s) }
        }

        // 7, 8
        for (id, adds) in elementAdds { tx.add(adds, to: id.name, in: id.table) }
        for c in new.chains where flushed.contains(c.id) || emptied.contains(c.id) || oldChains[c.id] == nil
            || recreatedChains.contains(c.id) {
            for r in newRules[c.id] ?? [] { tx.add(r) }
        }

        // 9
        for s in old.sets where newSets[SetID(table: s.table, name: s.name)] == nil && newTables.contains(s.table) {
            tx.append(.deleteSet(s.table, s.name))
        }
        for c in old.chains where newChains[c.id] == nil && newTables.contains(c.table) { tx.append(.deleteChain(c.id)) }
        for t in old.tables where !newTables.contains(t.id) { tx.append(.deleteTable(t.id)) }
        return tx
    }
}

extension Rule {
    /// Chains this rule jumps or goes to, directly or through an inline verdict map.
    var chainReferences: [String] {
        expressions.flatMap { e -> [String] in
            switch e {
            case .verdict(let v): v.chain.map { [$0] } ?? []
            case .lookup(_, .anonymous(let s), _, _):
                s.elements.compactMap { if case .verdict(let v)? = $0.data { v.chain } else { nil } }
            default: []
            }
        }
    }

    /// Named sets this rule looks up or updates.
    var setReferences: [String] {
        expressions.compactMap { e in
            switch e {
            case .lookup(_, .named(let n), _, _): n
            case .dynset(_, _, _, let n, _): n
            default: nil
            }
        }
    }
}
