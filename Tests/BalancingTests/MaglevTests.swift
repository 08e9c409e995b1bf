@testable import Balancing
import Testing

@Suite("Maglev: consistent, weighted, deterministic")
struct MaglevTests {
    static func backends(_ n: Int, weight: UInt16 = 1) -> [Maglev.Backend] {
        (0..<n).map { Maglev.Backend(id: "10.1.0.\($0 + 2):8080", weight: weight) }
    }

    @Test("table size: the smallest prime at least 100 × N", arguments: [(1, 101), (2, 211), (3, 307), (10, 1009), (1000, 65521)])
    func size(n: Int, expected: Int) {
        #expect(Maglev.tableSize(backends: n) == expected)
    }

    @Test("every node computes the same table, whatever the order of the backends")
    func deterministic() {
        let b = Self.backends(7)
        let m = Maglev.tableSize(backends: 7)
        let t1 = Maglev.table(b, size: m).map { b[$0].id }
        let shuffled = Array(b.reversed())
        let t2 = Maglev.table(shuffled, size: m).map { shuffled[$0].id }
        #expect(t1 == t2)
        #expect(t1.count == m)
    }

    @Test("shares are even, and follow weights")
    func shares() {
        let b = Self.backends(4)
        let t = Maglev.table(b, size: Maglev.tableSize(backends: 4))
        for i in 0..<4 {
            let share = Double(t.filter { $0 == i }.count) / Double(t.count)
            #expect(abs(share - 0.25) < 0.01, "backend \(i) has \(share)")
        }
        let weighted = [Maglev.Backend(id: "a", weight: 9), Maglev.Backend(id: "b", weight: 1)]
        let w = Maglev.table(weighted, size: 211)
        let a = Double(w.filter { $0 == 0 }.count) / 211
        #expect(abs(a - 0.9) < 0.01, "9:1 gave \(a)")
        #expect(Maglev.table([Maglev.Backend(id: "x", weight: 0)], size: 101).isEmpty)
    }

    @Test("losing one of N backends moves its own slots and almost no others", arguments: [3, 10, 50])
    func disruption(n: Int) {
        let b = Self.backends(n)
        let m = Maglev.tableSize(backends: n)
        let before = Maglev.table(b, size: m).map { b[$0].id }
        let remaining = b.filter { $0.id != b[n / 2].id }
        let after = Maglev.table(remaining, size: m).map { remaining[$0].id }
        #expect(Maglev.disruption(old: before, new: after) < 0.05)
        #expect(after.allSatisfy { $0 != b[n / 2].id })
    }
}
