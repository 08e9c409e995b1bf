import NetworkTypes
@testable import NFTables
import Testing

/// Addresses print exactly as nft prints them (glibc's inet_ntop), and parsing refuses what
/// inet_pton refuses.
struct AddressTests {
    @Test(arguments: [
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        // The first of two equally long zero runs is compressed.
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        // A single zero group is never compressed (RFC 5952 4.2.2).
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        ("0:0:1::", "0:0:1::"),
        ("FD00::ABCD", "fd00::abcd"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        ("0:0:0:0:0:1:0:0", "::1:0:0"),
        // IPv4-mapped and IPv4-compatible addresses end in a dotted quad.
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("::ffff:102:304", "::ffff:1.2.3.4"),
        ("::ffff:0:0", "::ffff:0.0.0.0"),
        ("::1.2.3.4", "::1.2.3.4"),
        // Seven zero groups: not IPv4-compatible for glibc.
        ("::0.0.1.2", "::102"),
        ("fe80::1:2", "fe80::1:2"),
    ])
    func ipv6Text(_ input: String, _ text: String) throws {
        let a = try #require(IPv6Address(input))
        #expect(a.description == text)
        #expect(IPv6Address(text) == a)
    }

    @Test(arguments: [
        "", ":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "g::", "::+1", "::-0",
        "1.2.3.4::", "::1.2.3", "::1.2.3.256", "1:2:3:4:5:6:7:8::", ":1::", "1::2:", "::ffff:01.2.3.4",
        "1:2:3:4:5:6:7:1.2.3.4", " ::1", "::1%eth0",
    ])
    func ipv6Invalid(_ input: String) {
        #expect(IPv6Address(input) == nil)
    }

    @Test(arguments: ["0.0.0.0", "1.2.3.4", "255.255.255.255", "10.0.0.1"])
    func ipv4RoundTrip(_ s: String) {
        #expect(IPv4Address(s)?.description == s)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "+1.2.3.4", "1.2.3.4 ", "1..2.3", "a.b.c.d", "1.2.3.-0"])
    func ipv4Invalid(_ s: String) {
        #expect(IPv4Address(s) == nil)
    }

    @Test(arguments: [
        ("10.1.2.3/8", "10.0.0.0/8"),
        ("fd00::1/64", "fd00::/64"),
        ("::/0", "::/0"),
        ("1.2.3.4", "1.2.3.4/32"),
        ("10.31.255.255/12", "10.16.0.0/12"),
        ("2001:db8::ffff/127", "2001:db8::fffe/127"),
    ])
    func prefixText(_ input: String, _ text: String) {
        #expect(IPPrefix(input)?.description == text)
    }

    @Test(arguments: ["", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/+8", "10.0.0.0/8/8", "fd00::/129", "10.0.0.0/ 8"])
    func prefixInvalid(_ s: String) {
        #expect(IPPrefix(s) == nil)
    }

    @Test func prefixMaskAndEnd() throws {
        let p = try #require(IPPrefix("10.0.0.0/12"))
        #expect(p.mask == [255, 240, 0, 0])
        #expect(p.end == [10, 16, 0, 0])
        #expect(IPPrefix("255.255.255.0/24")?.end == nil)
        #expect(IPPrefix("0.0.0.0/0")?.end == nil)
        #expect(IPPrefix("fd00::/64")?.end == IPv6Address("fd00:0:0:1::")?.bytes)
    }

    @Test(arguments: [
        ([10, 0, 0, 0], [10, 255, 255, 255], 8),
        ([0, 0, 0, 0], [255, 255, 255, 255], 0),
        ([10, 0, 0, 1], [10, 0, 0, 1], 32),
        ([10, 1, 0, 0], [10, 1, 0, 7], 29),
    ] as [([UInt8], [UInt8], Int)])
    func rangesThatArePrefixes(_ first: [UInt8], _ last: [UInt8], _ length: Int) {
        #expect(prefixLength(first, last) == length)
    }

    @Test(arguments: [
        ([10, 0, 0, 0], [10, 0, 0, 2]),
        ([10, 0, 0, 1], [10, 0, 0, 2]),
        ([10, 0, 0, 1], [10, 0, 1, 0]),
    ] as [([UInt8], [UInt8])])
    func rangesThatAreNot(_ first: [UInt8], _ last: [UInt8]) {
        #expect(prefixLength(first, last) == nil)
    }

    @Test func rangeTextByType() {
        #expect(rangeText([10, 1, 0, 0], [10, 1, 0, 7], .ipv4) == "10.1.0.0/29")
        #expect(rangeText([10, 0, 0, 0], [10, 0, 0, 2], .ipv4) == "10.0.0.0-10.0.0.2")
        // nft folds only addresses into prefixes: ports stay ranges.
        #expect(rangeText([4, 0], [7, 255], .inetService) == "1024-2047")
        #expect(rangeText([0, 80], [0, 80], .inetService) == "80")
        #expect(decremented([1, 0, 0]) == [0, 255, 255])
        #expect(decremented([0, 0]) == [255, 255])
    }

    /// nft's layout of an interval set: an end element at zero when the first range starts
    /// above zero, and an end element wherever the next range does not start.
    @Test func intervalLayout() {
        let els = SetElement.intervals([
            ([10, 2, 0, 0], [10, 3, 0, 0], nil),
            ([10, 0, 0, 0], [10, 1, 0, 0], nil),
            ([10, 1, 0, 0], [10, 2, 0, 0], nil),
            ([255, 255, 255, 0], nil, nil),
        ])
        #expect(els.map(\.key) == [[0, 0, 0, 0], [10, 0, 0, 0], [10, 1, 0, 0], [10, 2, 0, 0], [10, 3, 0, 0], [255, 255, 255, 0]])
        #expect(els.map(\.intervalEnd) == [true, false, false, false, true, false])
        let set = NFSet(Fixtures.ip, "s", key: [.ipv4Address], flags: [.interval], elements: els)
        #expect(ElementText(set).texts(els) == ["10.0.0.0/16", "10.1.0.0/16", "10.2.0.0/16", "255.255.255.0/24"])
    }

    @Test(arguments: [
        (0, ""), (1, "1ms"), (1000, "1s"), (90_000, "1m30s"), (10_800_000, "3h"), (93_784_005, "1d2h3m4s5ms"),
    ] as [(UInt64, String)])
    func durations(_ millis: UInt64, _ text: String) {
        #expect(durationText(millis: millis) == text)
    }
}
