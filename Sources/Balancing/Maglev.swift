/// Weighted Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of M slots
/// (M prime) filled from per-backend permutations, so that every node computes the same table
/// from the same backends, and removing one of N backends moves about 1/N of the slots — its
/// own — and almost no others. Pure: no global state, no randomness.
public enum Maglev {
    public struct Backend: Hashable, Sendable {
        /// A stable identity (e.g. `10.1.0.2:8080`): it decides the backend's permutation.
        public var id: String
        /// Share of slots, relative to the others; 0 takes no slots.
        public var weight: UInt16
        public init(id: String, weight: UInt16 = 1) {
            self.id = id
            self.weight = weight
        }
    }

    /// The largest table size: bounds map elements per service port.
    public static let maximumSize = 65_521

    /// The smallest prime ≥ 100·n (the paper's M ≫ N keeps shares even), at most `maximumSize`.
    public static func tableSize(backends n: Int) -> Int {
        var m = max(2, min(100 * max(n, 1), maximumSize))
        while !isPrime(m) { m += 1 }
        return min(m, maximumSize)
    }

    /// The owner (index into `backends`) of each of the `size` slots; empty when no backend has weight.
    /// The result does not depend on the order of `backends`.
    public static func table(_ backends: [Backend], size m: Int) -> [Int] {
        let order = backends.indices.filter { backends[$0].weight > 0 }.sorted { backends[$0].id < backends[$1].id }
        guard !order.isEmpty, m > 1 else { return [] }
        let maxWeight = order.map { Int(backends[$0].weight) }.max() ?? 1
        let offsets = order.map { Int(fnv1a(backends[$0].id, seed: 0x6d61676c) % UInt64(m)) }
        let skips = order.map { Int(fnv1a(backends[$0].id, seed: 0x65763031) % UInt64(m - 1)) + 1 }
        var next = [Int](repeating: 0, count: order.count)
        var credit = [Int](repeating: 0, count: order.count)
        var table = [Int](repeating: -1, count: m)
        var filled = 0
        // Weighted turns: each round every backend earns its weight; each full `maxWeight` of
        // credit buys one turn, so slots split in proportion to weight.
        while filled < m {
            for (k, index) in order.enumerated() {
                credit[k] += Int(backends[index].weight)
                while credit[k] >= maxWeight && filled < m {
                    credit[k] -= maxWeight
                    var slot = (offsets[k] + next[k] * skips[k]) % m
                    while table[slot] >= 0 {
                        next[k] += 1
                        slot = (offsets[k] + next[k] * skips[k]) % m
                    }
                    table[slot] = index
                    next[k] += 1
                    filled += 1
                }
            }
        }
        return table
    }

    /// Fraction of slots whose owner changed between two tables of backend ids, counting only
    /// slots whose old owner is still present (the disruption consistent hashing promises to keep low).
    public static func disruption(old: [String], new: [String]) -> Double {
        let survivors = Set(new)
        var considered = 0, moved = 0
        for (a, b) in zip(old, new) where survivors.contains(a) {
            considered += 1
            if a != b { moved += 1 }
        }
        return considered == 0 ? 0 : Double(moved) / Double(considered)
    }

    static func fnv1a(_ s: String, seed: UInt64) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    static func isPrime(_ n: Int) -> Bool {
        if n < 2 { return false }
        if n % 2 == 0 { return n == 2 }
        var d = 3
        while d * d <= n {
            if n % d == 0 { return false }
            d += 2
        }
        return true
    }
}
