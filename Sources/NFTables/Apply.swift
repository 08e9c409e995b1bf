/// Applying a transaction to a ruleset in memory, with the kernel's refusals: the fake
/// backend tests run against, and the check that a diff's order is one the kernel accepts.
extension Ruleset {
    /// The ruleset after `transaction`, or the first command the kernel would refuse: adding
    /// an element over an existing key with other data (EEXIST), deleting something missing
    /// (ENOENT), deleting a chain that still holds rules or is jumped to, or a set a rule uses
    /// (EBUSY), a rule or element referring to a chain or set that does not exist (ENOENT).
    public func applying(_ transaction: Transaction) throws(ApplyError) -> Ruleset {
        var r = self
        for (i, c) in transaction.commands.enumerated() {
            do throws(ApplyError) {
                try r.apply(c)
            } catch {
                var e = error
                e.command = i
                throw e
            }
        }
        return r
    }

    private mutating func apply(_ command: Transaction.Command) throws(ApplyError) {
        switch command {
        case .addTable(let t):
            if !tables.contains(where: { $0.id == t.id }) { tables.append(t) }
        case .createTable(let t):
            if tables.contains(where: { $0.id == t.id }) { throw ApplyError(.exists, "table \(t.id)") }
            tables.append(t)
        case .deleteTable(let id):
            try requireTable(id)
            tables.removeAll { $0.id == id }
            chains.removeAll { $0.table == id }
            sets.removeAll { $0.table == id }
            rules.removeAll { $0.chain.table == id }
        case .flushTable(let id):
            try requireTable(id)
            rules.removeAll { $0.chain.table == id }
        case .addChain(let c), .createChain(let c):
            try requireTable(c.table)
            if let i = chains.firstIndex(where: { $0.id == c.id }) {
                if case .createChain = command { throw ApplyError(.exists, "chain \(c.id)") }
                if let policy = c.base?.policy { chains[i].base?.policy = policy }
            } else {
                chains.append(c)
            }
        case .deleteChain(let id):
            try requireChain(id)
            if rules.contains(where: { $0.chain == id }) { throw ApplyError(.busy, "chain \(id)", "it still holds rules") }
            if rules.contains(where: { $0.chain.table == id.table && $0.chainReferences.contains(id.name) })
                || sets.contains(where: { $0.table == id.table && $0.elements.contains { $0.jumps(to: id.name) } })
            {
                throw ApplyError(.busy, "chain \(id)", "a rule or map element still jumps to it")
            }
            chains.removeAll { $0.id == id }
        case .flushChain(let id):
            try requireChain(id)
            rules.removeAll { $0.chain == id }
        case .addRule(let rule), .insertRule(let rule):
            try checkReferences(rule)
            if case .insertRule = command, let i = rules.firstIndex(where: { $0.chain == rule.chain }) {
                rules.insert(rule, at: i)
            } else {
                rules.append(rule)
            }
        case .replaceRule(let rule, let handle):
            try checkReferences(rule)
            guard let i = rules.firstIndex(where: { $0.chain == rule.chain && $0.handle == handle }) else {
                throw ApplyError(.notFound, "rule \(handle) in chain \(rule.chain)")
            }
            var replaced = rule
            replaced.handle = handle
            rules[i] = replaced
        case .deleteRule(let chain, let handle):
            guard let i = rules.firstIndex(where: { $0.chain == chain && $0.handle == handle }) else {
                throw ApplyError(.notFound, "rule \(handle) in chain \(chain)")
            }
            rules.remove(at: i)
        case .addSet(let s):
            try requireTable(s.table)
            if let existing = sets.first(where: { $0.table == s.table && $0.name == s.name }) {
                if existing.definition != s.definition { throw ApplyError(.exists, "set \(s.table) \(s.name)", "with another definition") }
            } else {
                sets.append(s.definition)
            }
            try addElements(s.elements, to: s.name, in: s.table)
        case .deleteSet(let t, let name):
            _ = try setIndex(name, t)
            if rules.contains(where: { $0.chain.table == t && $0.setReferences.contains(name) }) {
                throw ApplyError(.busy, "set \(t) \(name)", "a rule still uses it")
            }
            sets.removeAll { $0.table == t && $0.name == name }
        case .flushSet(let t, let name):
            sets[try setIndex(name, t)].elements = []
        case .addElements(let t, let name, let elements):
            try addElements(elements, to: name, in: t)
        case .deleteElements(let t, let name, let elements):
            let i = try setIndex(name, t)
            for e in elements {
                guard let at = sets[i].elements.firstIndex(where: { $0.sameKey(as: e) }) else {
                    throw ApplyError(.notFound, "element of set \(t) \(name)")
                }
                sets[i].elements.remove(at: at)
            }
        }
    }

    private mutating func addElements(_ elements: [SetElement], to name: String, in table: TableID) throws(ApplyError) {
        let i = try setIndex(name, table)
        for e in elements {
            if case .verdict(let v)? = e.data, let c = v.chain { try requireChain(ChainID(table, c)) }
            if let existing = sets[i].elements.first(where: { $0.sameKey(as: e) }) {
                if existing != e { throw ApplyError(.exists, "element of set \(table) \(name)", "with other data") }
                continue
            }
            sets[i].elements.append(e)
        }
    }

    private func checkReferences(_ rule: Rule) throws(ApplyError) {
        try requireChain(rule.chain)
        for c in rule.chainReferences { try requireChain(ChainID(rule.chain.table, c)) }
        for s in rule.setReferences { _ = try setIndex(s, rule.chain.table) }
    }

    private func requireTable(_ id: TableID) throws(ApplyError) {
        if !tables.contains(where: { $0.id == id }) { throw ApplyError(.notFound, "table \(id)") }
    }

    private func requireChain(_ id: ChainID) throws(ApplyError) {
        if !chains.contains(where: { $0.id == id }) { throw ApplyError(.notFound, "chain \(id)") }
    }

    private func setIndex(_ name: String, _ table: TableID) throws(ApplyError) -> Int {
        guard let i = sets.firstIndex(where: { $0.table == table && $0.name == name }) else {
            throw ApplyError(.notFound, "set \(table) \(name)")
        }
        return i
    }
}

extension SetElement {
    /// Whether two elements occupy the same place in a set (the kernel's notion of "exists").
    func sameKey(as other: SetElement) -> Bool {
        key == other.key && keyEnd == other.keyEnd && intervalEnd == other.intervalEnd
    }

    func jumps(to chain: String) -> Bool {
        if case .verdict(let v)? = data { return v.chain == chain }
        return false
    }
}

/// A command the kernel would refuse, with the errno it would answer.
public struct ApplyError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case exists = "EEXIST"
        case notFound = "ENOENT"
        case busy = "EBUSY"
    }
    public var code: Code
    public var object: String
    public var reason: String?
    /// Index of the refused command in the transaction.
    public var command: Int = 0

    init(_ code: Code, _ object: String, _ reason: String? = nil) {
        self.code = code
        self.object = object
        self.reason = reason
    }

    public var description: String {
        "command \(command + 1): \(object): \(code.rawValue)" + (reason.map { " (\($0))" } ?? "")
    }
}
