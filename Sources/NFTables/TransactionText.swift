/// A transaction as an `nft -f` script: what `sluice diff` prints. Loading the script with
/// `nft -f` into a kernel holding the old ruleset applies the same change.
extension Transaction {
    /// One command a line: `add table ip sluice`, `add rule ip sluice c ...`,
    /// `delete element ip sluice m { ... }`. Sets the transaction adds or was told about
    /// (`know(_:)`) give elements and lookups their types; elements of other sets print as hex.
    public var nftText: String {
        commands.map { nftText(of: $0) + "\n" }.joined()
    }

    /// One command as an nft statement line (without the newline).
    public func nftText(of command: Command) -> String {
        switch command {
        case .addTable(let t): "add table \(t.id)" + tableBody(t)
        case .createTable(let t): "create table \(t.id)" + tableBody(t)
        case .deleteTable(let t): "delete table \(t)"
        case .flushTable(let t): "flush table \(t)"
        case .addChain(let c): "add chain \(c.id)" + chainBody(c)
        case .createChain(let c): "create chain \(c.id)" + chainBody(c)
        case .deleteChain(let c): "delete chain \(c)"
        case .flushChain(let c): "flush chain \(c)"
        case .addRule(let r): "add rule \(r.chain) " + ruleText(r)
        case .insertRule(let r): "insert rule \(r.chain) " + ruleText(r)
        case .replaceRule(let r, let handle): "replace rule \(r.chain) handle \(handle) " + ruleText(r)
        case .deleteRule(let c, let handle): "delete rule \(c) handle \(handle)"
        case .addSet(let s): "add \(s.isMap ? "map" : "set") \(s.table) \(s.name)" + setBody(s)
        // `flush set` and `delete set` do not find maps: nft wants the right word.
        case .deleteSet(let t, let name): "delete \(kind(name, t)) \(t) \(name)"
        case .flushSet(let t, let name): "flush \(kind(name, t)) \(t) \(name)"
        case .addElements(let t, let name, let elements):
            "add element \(t) \(name) " + elementsText(elements, of: name, in: t, keysOnly: false)
        case .deleteElements(let t, let name, let elements):
            "delete element \(t) \(name) " + elementsText(elements, of: name, in: t, keysOnly: true)
        }
    }

    private func tableBody(_ t: Table) -> String {
        t.comment.map { " { comment \(quoted($0)); }" } ?? ""
    }

    private func chainBody(_ c: Chain) -> String {
        var parts: [String] = []
        if let comment = c.comment { parts.append("comment \(quoted(comment))") }
        if let base = c.base { parts.append(base.nftText(family: c.table.family)) }
        return parts.isEmpty ? "" : " { " + parts.map { $0 + "; " }.joined() + "}"
    }

    private func setBody(_ s: NFSet) -> String {
        var parts = s.declarationLines
        if !s.elements.isEmpty { parts.append("elements = " + ElementText(s).braced(s.elements, named: false)) }
        return " { " + parts.map { $0 + "; " }.joined() + "}"
    }

    private func ruleText(_ r: Rule) -> String {
        var sets: [String: NFSet] = [:]
        for e in r.expressions {
            switch e {
            case .lookup(_, .named(let n), _, _), .dynset(_, _, _, let n, _):
                sets[n] = definition(of: n, in: r.chain.table)
            default: break
            }
        }
        return r.nftText(family: r.chain.table.family, sets: sets)
    }

    private func kind(_ name: String, _ table: TableID) -> String {
        definition(of: name, in: table)?.isMap == true ? "map" : "set"
    }

    /// Deletes name keys only: nft finds elements by key, and refuses a verdict on delete.
    private func elementsText(_ elements: [SetElement], of name: String, in table: TableID, keysOnly: Bool) -> String {
        let list = keysOnly ? elements.map { SetElement(key: $0.key, keyEnd: $0.keyEnd, intervalEnd: $0.intervalEnd) } : elements
        guard var def = definition(of: name, in: table) else {
            return "{ " + list.filter { !$0.intervalEnd }.map { rawHexText($0.key) }.joined(separator: ", ") + " }"
        }
        if keysOnly { def.data = nil }
        return ElementText(def).braced(list, named: false)
    }
}
