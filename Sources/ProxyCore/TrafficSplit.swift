/// Weights for a `sluice.dev/traffic-split` Service: each group receives its share of new
/// connections, split among the group's endpoints in proportion to their own weights
/// (evenly, unless a backend slice carries `sluice.dev/weight`).
enum TrafficSplitWeights {
    /// Applies the shares to one endpoint list (after categorisation, so that a group's
    /// share is spread over the endpoints that list really holds). `group` maps an endpoint
    /// to its group's index in `shares`.
    static func apply(_ list: [Endpoint], group: [EndpointID: Int], shares: [UInt16]) -> [Endpoint] {
        var totals = [UInt64](repeating: 0, count: shares.count)
        for ep in list {
            if let g = group[EndpointID(ep)] { totals[g] += UInt64(ep.weight) }
        }
        // Exact share of endpoint e in group g: share(g) · weight(e) / total(g).
        let fractions: [(num: UInt64, den: UInt64)] = list.map { ep in
            guard let g = group[EndpointID(ep)], totals[g] > 0 else { return (0, 1) }
            return (UInt64(shares[g]) * UInt64(ep.weight), totals[g])
        }
        let weights = integerWeights(fractions)
        return zip(list, weights).map { ep, w in
            var e = ep
            e.weight = w
            return e
        }
    }

    /// The smallest integers in the same proportions as the fractions when they fit in
    /// 16 bits; otherwise proportions rounded onto 1…65535 (a positive fraction never
    /// rounds to 0, which would drain the endpoint).
    static func integerWeights(_ fractions: [(num: UInt64, den: UInt64)]) -> [UInt16] {
        if let exact = exactWeights(fractions) { return exact }
        let values = fractions.map { Double($0.num) / Double($0.den) }
        let top = values.max() ?? 0
        guard top > 0 else { return values.map { _ in 0 } }
        return values.map { v in v > 0 ? UInt16(Swift.max(1, Swift.min(65535, (v / top * 65535).rounded()))) : 0 }
    }

    static func exactWeights(_ fractions: [(num: UInt64, den: UInt64)]) -> [UInt16]? {
        var lcm: UInt64 = 1
        for f in fractions where f.num > 0 {
            let (m, overflow) = (lcm / gcd(lcm, f.den)).multipliedReportingOverflow(by: f.den)
            if overflow { return nil }
            lcm = m
        }
        var ints: [UInt64] = []
        for f in fractions {
            let (v, overflow) = f.num.multipliedReportingOverflow(by: lcm / f.den)
            if overflow { return nil }
            ints.append(v)
        }
        let divisor = ints.reduce(0) { gcd($0, $1) }
        guard divisor > 0 else { return ints.map { _ in 0 } }
        let reduced = ints.map { $0 / divisor }
        guard reduced.allSatisfy({ $0 <= 65535 }) else { return nil }
        return reduced.map { UInt16($0) }
    }

    static func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }
}
