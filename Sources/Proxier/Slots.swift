import ProxyCore

/// Turns endpoint weights into selection slots: `numgen random mod K` picks one of K slots,
/// so an endpoint with s of the K slots gets s/K of new connections.
enum Slots {
    /// Most slots a port may use: it bounds map elements per port and the number of class chains.
    static let maximum = 256

    /// Slot owners (endpoint indices). Where `previous` says which endpoint held each slot
    /// before, an endpoint that is still there keeps its slots (up to its new share), so a change
    /// of one endpoint rewrites only that endpoint's slots; the rest are filled in order.
    static func assign(_ endpoints: [Endpoint], previous: (Int) -> Int?) -> [Int] {
        let shares = shares(endpoints)
        let total = shares.reduce(0, +)
        var left = shares
        var out = [Int?](repeating: nil, count: total)
        for slot in 0..<total {
            if let e = previous(slot), e < left.count, left[e] > 0 {
                out[slot] = e
                left[e] -= 1
            }
        }
        var next = 0
        for slot in 0..<total where out[slot] == nil {
            while left[next] == 0 { next += 1 }
            out[slot] = next
            left[next] -= 1
        }
        return out.compactMap { $0 }
    }

    /// How many slots each endpoint gets (0 for weight 0).
    static func shares(_ endpoints: [Endpoint]) -> [Int] {
        var result = [Int](repeating: 0, count: endpoints.count)
        for index in assign(endpoints) { result[index] += 1 }
        return result
    }

    /// Slot owners in order (endpoint indices, each repeated by its share). Weight 0 gets none.
    static func assign(_ endpoints: [Endpoint]) -> [Int] {
        let weighted = endpoints.enumerated().filter { $0.element.weight > 0 }
        guard !weighted.isEmpty else { return [] }
        let weights = weighted.map { Int($0.element.weight) }
        if Set(weights).count == 1 {
            return weighted.prefix(maximum).map(\.offset)
        }
        var g = weights[0]
        for w in weights { g = gcd(g, w) }
        var shares = weights.map { $0 / g }
        let total = shares.reduce(0, +)
        if total > maximum {
            // Largest remainder: every weighted endpoint keeps at least one slot.
            let exact = weights.map { Double($0) * Double(maximum - weights.count) / Double(weights.reduce(0, +)) }
            shares = exact.map { Int($0) + 1 }
            var left = maximum - shares.reduce(0, +)
            for i in exact.indices.sorted(by: { exact[$0] - exact[$0].rounded(.down) > exact[$1] - exact[$1].rounded(.down) }) where left > 0 {
                shares[i] += 1
                left -= 1
            }
        }
        var out: [Int] = []
        for (i, s) in shares.enumerated() { out += Array(repeating: weighted[i].offset, count: s) }
        return out
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}
