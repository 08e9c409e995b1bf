/// Rendering to `nft` syntax. `Ruleset.nftText` is byte for byte what `nft list ruleset`
/// (nft 1.0.6) prints for the same ruleset, for everything our builders produce: DESIGN.md
/// requires that what Sluice writes lists cleanly and that the listing equals ours.
extension Ruleset {
    /// What `nft list ruleset` prints: tables in order, each with its sets, then its chains,
    /// in the order they are held (the kernel lists them in creation order).
    public var nftText: String {
        let byChain = rulesByChain
        return tables.map { nftText(of: $0, rulesByChain: byChain) }.joined()
    }

    /// What `nft list table <family> <name>` prints for one table.
    public func nftText(of table: Table) -> String {
        nftText(of: table, rulesByChain: rulesByChain)
    }

    private func nftText(of table: Table, rulesByChain: [ChainID: [Rule]]) -> String {
        let byName = setsByName(in: table.id)
        var blocks = sets.filter { $0.table == table.id }.map { $0.nftBlock }
        for chain in chains where chain.table == table.id {
            let chainRules = rulesByChain[chain.id] ?? []
            blocks.append(chain.nftBlock(rules: chainRules.map { $0.nftText(family: table.family, sets: byName) }))
        }
        var s = "table \(table.family.rawValue) \(table.name) {\n"
        if let c = table.comment { s += "\tcomment \(quoted(c))\n" }
        // nft separates the objects of a table with one empty line.
        s += blocks.joined(separator: "\n")
        return s + "}\n"
    }

    /// Each chain's rules in order (one pass: a ruleset may hold 100,000 chains).
    var rulesByChain: [ChainID: [Rule]] {
        var out: [ChainID: [Rule]] = [:]
        for rule in rules { out[rule.chain, default: []].append(rule) }
        return out
    }

    /// The ruleset's sets by table and name, for rendering rules that look them up.
    func setsByName(in table: TableID) -> [String: NFSet] {
        Dictionary(sets.filter { $0.table == table }.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }
}

extension Rule {
    /// The rule's statements as nft prints them, without the chain (`ip daddr 10.0.0.2 tcp dport 80
    /// drop comment "x"`). Lookups in named sets print as nft prints them as long as the key was
    /// loaded the way nft loads it; `Ruleset.nftText` also knows the sets' key lengths.
    public var nftStatementText: String {
        nftText(family: chain.table.family, sets: [:])
    }

    func nftText(family: Family, sets: [String: NFSet]) -> String {
        var s = RuleDecompiler.text(expressions, family: family, sets: sets)
        if let comment { s += (s.isEmpty ? "" : " ") + "comment \(quoted(comment))" }
        return s
    }
}

extension Chain {
    /// The chain as it appears inside `table ... { }`, each rule on its own line.
    func nftBlock(rules: [String]) -> String {
        var s = "\tchain \(name) {\n"
        if let c = comment { s += "\t\tcomment \(quoted(c))\n" }
        if let base { s += "\t\t\(base.nftText(family: table.family));\n" }
        for r in rules { s += "\t\t\(r)\n" }
        return s + "\t}\n"
    }
}

extension BaseChain {
    /// `type nat hook prerouting priority dstnat; policy accept` (no final semicolon).
    public func nftText(family: Family) -> String {
        "type \(type.rawValue) hook \(hook.rawValue) priority \(priorityText(family: family)); policy \(policy)"
    }

    /// nft's `prio2str`: a standard priority's name when the value is within 10 of it
    /// (`filter - 5`, `srcnat + 10`), a plain number otherwise. `dstnat` only names prerouting
    /// priorities and `srcnat` postrouting ones, as nft refuses them on other hooks.
    public func priorityText(family: Family) -> String {
        let standard: [(String, Int32)] = [
            ("raw", BaseChain.raw), ("mangle", BaseChain.mangle), ("dstnat", BaseChain.dstnat),
            ("filter", BaseChain.filterPriority), ("security", 50), ("srcnat", BaseChain.srcnat),
        ]
        guard [.ip, .ip6, .inet].contains(family) else { return String(priority) }
        for (name, value) in standard where abs(Int(priority) - Int(value)) <= 10 {
            if name == "dstnat" && hook != .prerouting || name == "srcnat" && hook != .postrouting { break }
            let offset = Int(priority) - Int(value)
            return offset == 0 ? name : offset > 0 ? "\(name) + \(offset)" : "\(name) - \(-offset)"
        }
        return String(priority)
    }
}

extension NFSet {
    /// The set as it appears inside `table ... { }`.
    var nftBlock: String {
        var s = "\t\(isMap ? "map" : "set") \(name) {\n"
        for line in declarationLines { s += "\t\t\(line)\n" }
        if !elements.isEmpty { s += "\t\telements = \(ElementText(self).braced(elements, named: true))\n" }
        return s + "\t}\n"
    }

    /// `type ...`, `size`, `flags`, `timeout`, `comment`, in nft's order.
    var declarationLines: [String] {
        var lines = [typeText]
        if let size { lines.append("size \(size)") }
        if let f = flagsText { lines.append("flags \(f)") }
        if let t = timeoutMillis { lines.append("timeout \(durationText(millis: t))") }
        if let c = comment { lines.append("comment \(quoted(c))") }
        return lines
    }

    /// `type ipv4_addr : verdict`, or for a set declared from expressions (the only way to
    /// name an integer field, such as a numgen slot) `typeof ip daddr . numgen random mod 2`.
    var typeText: String {
        if let keys = keyTypeof {
            let value = switch data {
            case nil: ""
            case .verdict: " : verdict"
            case .value(let t): " : " + (dataTypeof.map(typeofText) ?? t.description)
            }
            return "typeof " + typeofText(keys) + value
        }
        return "type " + key.description + (data.map { d in
            switch d {
            case .verdict: " : verdict"
            case .value(let t): " : \(t)"
            }
        } ?? "")
    }

    /// Keys as nft names them in a rule: what each one's load (after its protocol match) prints.
    private func typeofText(_ keys: [Key]) -> String {
        keys.map { k in
            RuleDecompiler.text(k.dependency + [k.load(into: .r1)], family: table.family, sets: [:])
        }.joined(separator: " . ")
    }

    /// nft leaves out the `timeout` flag when the set has a default timeout, and prints no flags
    /// line when nothing else is left, but names the flag when another one forces the line.
    var flagsText: String? {
        var shown = flags.intersection([.constant, .dynamic, .interval, .timeout])
        if timeoutMillis != nil { shown.remove(.timeout) }
        if shown.isEmpty { return nil }
        let names: [(SetFlags, String)] = [(.constant, "constant"), (.dynamic, "dynamic"), (.interval, "interval"), (.timeout, "timeout")]
        return names.filter { flags.contains($0.0) }.map(\.1).joined(separator: ",")
    }
}
