/// What a kernel (or a desired state) holds: tables, chains, named sets with their
/// elements, and each chain's rules in order.
public struct Ruleset: Hashable, Sendable {
    public var tables: [Table]
    public var chains: [Chain]
    public var sets: [NFSet]
    public var rules: [Rule]

    public init(tables: [Table] = [], chains: [Chain] = [], sets: [NFSet] = [], rules: [Rule] = []) {
        self.tables = tables
        self.chains = chains
        self.sets = sets
        self.rules = rules
    }

    /// Only what belongs to the given tables.
    public func restricted(to ids: Set<TableID>) -> Ruleset {
        Ruleset(
            tables: tables.filter { ids.contains($0.id) },
            chains: chains.filter { ids.contains($0.table) },
            sets: sets.filter { ids.contains($0.table) },
            rules: rules.filter { ids.contains($0.chain.table) }
        )
    }

    /// A canonical order (tables, chains and sets by name; rules by chain, keeping their order;
    /// elements by key) so two rulesets holding the same things compare equal.
    public var normalized: Ruleset {
        var r = self
        r.tables.sort { $0.id < $1.id }
        r.chains.sort { $0.id < $1.id }
        r.sets = sets.map { s in
            var s = s
            s.elements = s.elements.sorted(by: SetElement.keyOrder)
            return s
        }.sorted { ($0.table, $0.name) < ($1.table, $1.name) }
        var byChain: [ChainID: [Rule]] = [:]
        for rule in rules { byChain[rule.chain, default: []].append(rule) }
        r.rules = byChain.keys.sorted().flatMap { byChain[$0] ?? [] }.map { rule in
            var rule = rule
            rule.handle = nil
            rule.expressions = rule.expressions.map(\.normalized)
            return rule
        }
        return r
    }

    /// Adds everything in a transaction of adds (a desired state built as a transaction).
    public init(adding commands: [Transaction.Command]) {
        self.init()
        for c in commands {
            switch c {
            case .addTable(let t), .createTable(let t): tables.append(t)
            case .addChain(let ch), .createChain(let ch): chains.append(ch)
            case .addSet(let s): sets.append(s)
            case .addRule(let r): rules.append(r)
            case .insertRule(let r): rules.insert(r, at: rules.firstIndex { $0.chain == r.chain } ?? rules.endIndex)
            case .addElements(let t, let name, let els):
                if let i = sets.firstIndex(where: { $0.table == t && $0.name == name }) { sets[i].elements += els }
            default: break
            }
        }
    }
}

extension SetElement {
    static func keyOrder(_ a: SetElement, _ b: SetElement) -> Bool {
        if a.key != b.key { return a.key.lexicographicallyPrecedes(b.key) }
        return !a.intervalEnd && b.intervalEnd
    }
}

extension Expression {
    /// Anonymous sets with their elements in key order, so equality does not depend on
    /// the order the kernel returns them in.
    var normalized: Expression {
        guard case .lookup(let from, .anonymous(var s), let into, let invert) = self else { return self }
        s.elements.sort(by: SetElement.keyOrder)
        return .lookup(from: from, set: .anonymous(s), into: into, invert: invert)
    }
}
