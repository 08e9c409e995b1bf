/// A list of changes to send to the kernel as one atomic batch. Every call validates what it
/// is given; the first problem is kept and reported by `validated()`, so a model the kernel
/// cannot accept never leaves this process (the knftables way).
public struct Transaction: Hashable, Sendable {
    public enum Command: Hashable, Sendable {
        case addTable(Table)
        /// Like add, but fails (EEXIST) when the table exists.
        case createTable(Table)
        case deleteTable(TableID)
        case flushTable(TableID)
        case addChain(Chain)
        case createChain(Chain)
        case deleteChain(ChainID)
        case flushChain(ChainID)
        /// Append a rule to its chain.
        case addRule(Rule)
        /// Prepend a rule to its chain.
        case insertRule(Rule)
        case replaceRule(Rule, handle: UInt64)
        case deleteRule(ChainID, handle: UInt64)
        case addSet(NFSet)
        case deleteSet(TableID, String)
        case flushSet(TableID, String)
        case addElements(TableID, set: String, [SetElement])
        case deleteElements(TableID, set: String, [SetElement])
    }

    public private(set) var commands: [Command] = []
    public private(set) var firstError: ValidationError?
    /// Set definitions the transaction knows, to check elements against.
    private var sets: [TableID: [String: NFSet]] = [:]

    public init() {}

    public var isEmpty: Bool { commands.isEmpty }

    /// Tell the transaction about sets that already exist in the kernel, so elements added to
    /// them can be checked.
    public mutating func know(_ set: NFSet) {
        sets[set.table, default: [:]][set.name] = set.definition
    }

    public mutating func append(_ command: Command) {
        if firstError == nil, let e = validate(command) {
            firstError = e
        }
        if case .addSet(let s) = command { know(s) }
        commands.append(command)
    }

    public mutating func append(contentsOf other: Transaction) {
        for c in other.commands { append(c) }
        if firstError == nil { firstError = other.firstError }
    }

    public mutating func add(_ table: Table) { append(.addTable(table)) }
    public mutating func create(_ table: Table) { append(.createTable(table)) }
    public mutating func add(_ chain: Chain) { append(.addChain(chain)) }
    public mutating func create(_ chain: Chain) { append(.createChain(chain)) }
    public mutating func add(_ rule: Rule) { append(.addRule(rule)) }
    public mutating func insert(_ rule: Rule) { append(.insertRule(rule)) }
    public mutating func add(_ set: NFSet) { append(.addSet(set)) }
    public mutating func add(_ elements: [SetElement], to set: String, in table: TableID) {
        append(.addElements(table, set: set, elements))
    }
    public mutating func delete(_ elements: [SetElement], from set: String, in table: TableID) {
        append(.deleteElements(table, set: set, elements))
    }

    /// A set's definition, as added by this transaction or told with `know(_:)`.
    func definition(of set: String, in table: TableID) -> NFSet? {
        sets[table]?[set]
    }

    /// The commands, or the first validation error.
    public func validated() throws(ValidationError) -> [Command] {
        if let firstError { throw firstError }
        return commands
    }

    // MARK: validation

    private func validate(_ command: Command) -> ValidationError? {
        switch command {
        case .addTable(let t), .createTable(let t):
            return checkName(t.name, "table", t.id.description) ?? checkComment(t.comment, "table \(t.id)")
        case .deleteTable(let t), .flushTable(let t):
            return checkName(t.name, "table", t.description)
        case .addChain(let c), .createChain(let c):
            return checkName(c.name, "chain", c.id.description) ?? checkComment(c.comment, "chain \(c.id)")
        case .deleteChain(let c), .flushChain(let c):
            return checkName(c.name, "chain", c.description)
        case .addRule(let r), .insertRule(let r), .replaceRule(let r, _):
            return checkRule(r)
        case .deleteRule:
            return nil
        case .addSet(let s):
            return checkSet(s)
        case .deleteSet(let t, let n), .flushSet(let t, let n):
            return checkName(n, "set", "\(t) \(n)")
        case .addElements(let t, let name, let elements), .deleteElements(let t, let name, let elements):
            guard let def = sets[t]?[name] else { return nil }
            let isDelete = if case .deleteElements = command { true } else { false }
            let check = ElementCheck(def)
            for e in elements {
                if let err = check.check(e, forDelete: isDelete) { return err }
            }
            return nil
        }
    }

    private func checkName(_ name: String, _ kind: String, _ object: @autoclosure () -> String) -> ValidationError? {
        nameError(name, kind, object())
    }

    private func checkComment(_ comment: String?, _ object: String) -> ValidationError? {
        guard let comment, comment.utf8.count > maxCommentLength else { return nil }
        return ValidationError(object: object, reason: "the comment is \(comment.utf8.count) bytes; nft allows \(maxCommentLength)")
    }

    private func checkRule(_ r: Rule) -> ValidationError? {
        let object = "rule in chain \(r.chain)"
        if let e = checkComment(r.comment, object) { return e }
        if r.expressions.isEmpty { return ValidationError(object: object, reason: "the rule has no expressions") }
        for (i, e) in r.expressions.enumerated() {
            if let reason = checkExpression(e, in: r.chain.table) {
                return ValidationError(object: object, reason: "expression \(i + 1): \(reason)")
            }
        }
        return nil
    }

    private func checkRegister(_ r: Register, length: Int) -> String? {
        guard let word = r.word else { return "\(r) is not a data register" }
        if Int(word) * 4 + length > 64 { return "\(length) bytes do not fit in registers from \(r)" }
        return nil
    }

    private func checkExpression(_ e: Expression, in table: TableID) -> String? {
        switch e {
        case .payload(_, _, let len, let into):
            if len == 0 || len > 16 { return "payload length \(len) is not 1…16" }
            return checkRegister(into, length: Int(len))
        case .cmp(_, let reg, let data):
            if data.isEmpty || data.count > 16 { return "cmp data of \(data.count) bytes is not 1…16" }
            return checkRegister(reg, length: data.count)
        case .range(_, let reg, let from, let to):
            if from.isEmpty || from.count > 16 || to.count != from.count { return "range bounds of \(from.count) and \(to.count) bytes" }
            return checkRegister(reg, length: from.count)
        case .bitwise(let from, let into, let len, let mask, let xor):
            if mask.count != Int(len) || xor.count != Int(len) { return "bitwise mask/xor lengths differ from \(len)" }
            return checkRegister(from, length: Int(len)) ?? checkRegister(into, length: Int(len))
        case .immediate(let data, let into):
            if data.isEmpty || data.count > 16 { return "immediate data of \(data.count) bytes is not 1…16" }
            return checkRegister(into, length: data.count)
        case .verdict(let v):
            if let c = v.chain { return checkName(c, "chain", c)?.reason }
            return nil
        case .lookup(let from, let set, let into, _):
            if let r = checkRegister(from, length: 4) { return r }
            if case .anonymous(let s) = set {
                if s.table != table { return "anonymous set belongs to table \(s.table), not \(table)" }
                if !s.isAnonymous { return "an inline set must be anonymous" }
                for el in s.elements {
                    if let err = checkElement(el, of: s, forDelete: false) { return err.reason }
                }
                if s.isMap && into == nil { return "a lookup in a map needs a destination register" }
            } else if set.name.isEmpty {
                return "lookup names no set"
            }
            if let into, into != .verdict, let r = checkRegister(into, length: 4) { return r }
            return nil
        case .numgen(_, let modulus, _, let into):
            if modulus == 0 { return "numgen modulus is 0" }
            return checkRegister(into, length: 4)
        case .hash(_, let from, let len, let modulus, _, _, let into):
            if modulus == 0 { return "hash modulus is 0" }
            if let from, let r = checkRegister(from, length: Int(len)) { return r }
            return checkRegister(into, length: 4)
        case .nat(_, let family, let amin, let amax, let pmin, let pmax, _):
            if family != .ip && family != .ip6 { return "nat family must be ip or ip6" }
            for r in [amin, amax, pmin, pmax].compactMap({ $0 }) {
                if let err = checkRegister(r, length: 4) { return err }
            }
            return nil
        case .dynset(_, let key, _, let set, _):
            if set.isEmpty { return "dynset names no set" }
            return checkRegister(key, length: 4)
        case .unknown(let name):
            return "expression '\(name)' is not supported"
        default:
            return nil
        }
    }

    private func checkSet(_ s: NFSet) -> ValidationError? {
        let object = "set \(s.table) \(s.name)"
        if !s.isAnonymous, let e = checkName(s.name, "set", "\(s.table) \(s.name)") { return e }
        if let e = checkComment(s.comment, object) { return e }
        if s.key.fields.isEmpty { return ValidationError(object: object, reason: "the set has no key type") }
        if s.key.length > 64 { return ValidationError(object: object, reason: "key of \(s.key.length) bytes exceeds the registers' 64") }
        if s.timeoutMillis != nil && !s.flags.contains(.timeout) {
            return ValidationError(object: object, reason: "a timeout needs the timeout flag")
        }
        let check = ElementCheck(s)
        for el in s.elements {
            if let err = check.check(el, forDelete: false) { return err }
        }
        return nil
    }

    /// Checks one element against its set. Called for every element of a batch, so everything
    /// the check needs is read from the set once, and messages are built only on failure.
    private func checkElement(_ e: SetElement, of s: NFSet, forDelete: Bool) -> ValidationError? {
        ElementCheck(s).check(e, forDelete: forDelete)
    }
}

/// What an element must agree with in its set, read once per set.
private struct ElementCheck {
    let set: NFSet
    let keyLength: Int
    let interval: Bool
    let timeout: Bool
    let valueLength: Int?

    init(_ s: NFSet) {
        set = s
        keyLength = s.key.length
        interval = s.flags.contains(.interval)
        timeout = s.flags.contains(.timeout)
        if case .value(let t)? = s.data { valueLength = t.length } else { valueLength = nil }
    }

    func check(_ e: SetElement, forDelete: Bool) -> ValidationError? {
        let s = set
        func fail(_ reason: @autoclosure () -> String) -> ValidationError {
            ValidationError(object: s.isAnonymous ? "anonymous set in table \(s.table)" : "set \(s.table) \(s.name)", reason: reason())
        }
        if e.key.count != keyLength {
            return fail("element key is \(e.key.count) bytes; the set's key (\(s.key)) is \(keyLength)")
        }
        if let end = e.keyEnd, end.count != keyLength {
            return fail("element key end is \(end.count) bytes; the set's key is \(keyLength)")
        }
        if (e.keyEnd != nil || e.intervalEnd) && !interval {
            return fail("a range element needs an interval set")
        }
        if let c = e.comment, c.utf8.count > maxCommentLength {
            return fail("element comment is \(c.utf8.count) bytes; nft allows \(maxCommentLength)")
        }
        if e.timeoutMillis != nil && !timeout {
            return fail("an element timeout needs the timeout flag on the set")
        }
        if forDelete || e.intervalEnd { return nil }
        switch (s.data, e.data) {
        case (nil, nil): return nil
        case (nil, .some): return fail("element has data but \(s.name.isEmpty ? "the set" : s.name) is not a map")
        case (.some, nil): return fail("map element has no data")
        case (.verdict, .value): return fail("verdict map element has a value, not a verdict")
        case (.value, .verdict): return fail("data map element has a verdict, not a value")
        case (.value(let t), .value(let v)):
            if v.count != valueLength {
                return fail("element value is \(v.count) bytes; the map's value (\(t)) is \(t.length)")
            }
            return nil
        case (.verdict, .verdict(let v)):
            if let c = v.chain { return nameError(c, "chain", c) }
            return nil
        }
    }
}
/// A model the kernel would refuse, caught before anything is sent.
public struct ValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var object: String
    public var reason: String
    public init(object: String, reason: String) {
        self.object = object
        self.reason = reason
    }
    public var description: String { "\(object): \(reason)" }
}

private func nameError(_ name: String, _ kind: String, _ object: @autoclosure () -> String) -> ValidationError? {
    if name.isEmpty { return ValidationError(object: "\(kind) \(object())", reason: "the \(kind) name is empty") }
    if name.utf8.count > maxNameLength {
        return ValidationError(object: "\(kind) \(object().prefix(80))…", reason: "the \(kind) name is \(name.utf8.count) bytes; the kernel allows \(maxNameLength)")
    }
    if name.utf8.contains(0) { return ValidationError(object: "\(kind) \(object())", reason: "the name contains a NUL byte") }
    return nil
}
