import NetworkTypes
import NFTables
@testable import Proxier
import ProxyCore
import Testing

@Suite("Slots: weights become numgen slots, and slots stay with their endpoints")
struct SlotsTests {
    static func ep(_ last: UInt8, weight: UInt16 = 1) -> Endpoint {
        Endpoint(address: .v4(IPv4Address(10, 1, 0, last)), port: 8080, weight: weight)
    }

    @Test("shares follow weights", arguments: [
        ([1, 1, 1] as [UInt16], [0, 1, 2]),
        ([3, 1], [0, 0, 0, 1]),
        ([90, 10], [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        ([0, 5], [1]),
        ([0, 0], []),
    ])
    func shares(weights: [UInt16], expected: [Int]) {
        let eps = weights.enumerated().map { Self.ep(UInt8($0.offset + 2), weight: $0.element) }
        #expect(Slots.assign(eps) == expected)
    }

    @Test("more weight than slots: capped at the maximum, every weighted endpoint keeps a slot")
    func capped() {
        let eps = [Self.ep(2, weight: 65535), Self.ep(3, weight: 1), Self.ep(4, weight: 2)]
        let slots = Slots.assign(eps)
        #expect(slots.count == Slots.maximum)
        #expect(Set(slots) == [0, 1, 2])
        #expect(slots.filter { $0 == 0 }.count > 250)
    }

    @Test("replacing one endpoint moves only its slot")
    func stable() {
        // Before: slot 0 → .2, slot 1 → .3, slot 2 → .4. Now .3 is replaced by .9 (sorted first).
        let before: [UInt8] = [2, 3, 4]
        let now = [Self.ep(9), Self.ep(2), Self.ep(4)].sorted { $0.address < $1.address }
        let slots = Slots.assign(now) { slot in now.firstIndex { $0.address == .v4(IPv4Address(10, 1, 0, before[slot])) } }
        #expect(slots.map { now[$0].address.description } == ["10.1.0.2", "10.1.0.9", "10.1.0.4"])
    }
}
