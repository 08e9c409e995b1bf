import NFTables

/// The elements of one set as the kernel holds them, with the service ports that want each.
/// Elements sit in one array, so a ruleset of the whole state shares it instead of copying
/// each element; an index finds an element by key; removal swaps the last one in.
///
/// Usually one port wants an element. Hairpin entries are wanted by every port of an endpoint
/// (all with the same element). Two Services may claim one frontend (an externalIP, say) with
/// different elements: the first keeps the key, the others wait in arrival order, and the next
/// takes the key when the first lets go.
struct ElementStore: Sendable {
    private(set) var elements: [SetElement] = []
    private var claims: [Claims] = []
    private var index: [KeyBytes: Int] = [:]

    struct Claims: Sendable, Equatable {
        /// Claims of exactly the element in the kernel.
        var count = 1
        /// Claims of other elements, in arrival order.
        var shadowed: [SetElement] = []
    }

    mutating func reserveCapacity(_ n: Int) {
        elements.reserveCapacity(n)
        claims.reserveCapacity(n)
        index.reserveCapacity(n)
    }

    enum Added { case added, shared, shadowed(owner: SetElement) }

    /// A port claims `e` under `key`.
    mutating func add(_ key: [UInt8], _ e: SetElement) -> Added {
        var isNew = false
        let n = elements.count
        // One hash: an inout access stores the default when the key is new.
        let i = Self.read(&index[KeyBytes(key), default: { isNew = true; return n }()])
        if isNew {
            elements.append(e)
            claims.append(Claims())
            return .added
        }
        if elements[i] == e {
            claims[i].count += 1
            return .shared
        }
        claims[i].shadowed.append(e)
        return .shadowed(owner: elements[i])
    }

    private static func read(_ v: inout Int) -> Int { v }

    enum Released { case kept, removed(SetElement), replaced(SetElement, by: SetElement) }

    /// A port lets go of its claim of `e` under `key`.
    mutating func release(_ key: [UInt8], _ e: SetElement) -> Released {
        guard let i = index[KeyBytes(key)] else { return .kept }
        let active = elements[i]
        if e != active {
            if let j = claims[i].shadowed.firstIndex(of: e) { claims[i].shadowed.remove(at: j) }
            return .kept
        }
        claims[i].count -= 1
        if claims[i].count > 0 { return .kept }
        if let next = claims[i].shadowed.first {
            let waiting = claims[i].shadowed
            elements[i] = next
            claims[i] = Claims(count: waiting.filter { $0 == next }.count, shadowed: waiting.filter { $0 != next })
            return .replaced(active, by: next)
        }
        remove(at: i, key: key)
        return .removed(active)
    }

    private mutating func remove(at i: Int, key: [UInt8]) {
        let last = elements.count - 1
        if i != last {
            elements.swapAt(i, last)
            claims.swapAt(i, last)
            index[KeyBytes(elements[i].key)] = i
        }
        elements.removeLast()
        claims.removeLast()
        index[KeyBytes(key)] = nil
    }

    /// Everything the store knows about one key: the element in the kernel and its claims.
    struct Slot: Sendable {
        var element: SetElement
        var claims: Claims
    }

    /// The key's state, for putting it back with `restore` (nil: the key is absent).
    func slot(_ key: [UInt8]) -> Slot? {
        index[KeyBytes(key)].map { Slot(element: elements[$0], claims: claims[$0]) }
    }

    /// Puts a key back as `slot` found it (nil: absent).
    mutating func restore(_ key: [UInt8], _ slot: Slot?) {
        let k = KeyBytes(key)
        switch (index[k], slot) {
        case (let i?, let s?):
            elements[i] = s.element
            claims[i] = s.claims
        case (nil, let s?):
            index[k] = elements.count
            elements.append(s.element)
            claims.append(s.claims)
        case (let i?, nil):
            remove(at: i, key: key)
        case (nil, nil):
            break
        }
    }
}

/// An element key as a dictionary key, hashed as one buffer (arrays hash byte by byte).
struct KeyBytes: Hashable, Sendable {
    var bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func hash(into h: inout Hasher) {
        bytes.withUnsafeBytes { h.combine(bytes: $0) }
    }
}
