import NetworkTypes
import NFTables

/// Expected listings, copied from `nft list ruleset` output (nft 1.0.6).
enum Golden {
    static let sluice = """
table ip sluice {
	comment "sluice test"
	map svc {
		type ipv4_addr . inet_proto . inet_service : verdict
		comment "dispatch"
		elements = { 10.0.0.2 . udp . 53 : goto svc-a,
			     10.0.0.1 . tcp . 80 comment "ns/a:http" : goto svc-a }
	}

	map backends {
		type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service
		elements = { 10.0.0.1 . tcp . 80 : 10.1.0.1 . 8080 }
	}

	set aff {
		type ipv4_addr
		size 65535
		flags dynamic,timeout
		timeout 3h
	}

	map ranges {
		type ipv4_addr : verdict
		flags interval
		elements = { 10.2.0.0/16 : accept }
	}

	chain svc-a {
		comment "ns/a:http"
		numgen random mod 2 vmap { 0 : goto ep1, 1 : goto ep2 }
	}

	chain ep1 {
		ip saddr 10.0.0.0/8 counter packets 0 bytes 0 meta mark set meta mark | 0x00004000
		meta l4proto tcp dnat to 10.1.0.1:8080
	}

	chain ep2 {
		update @aff { ip saddr timeout 3h }
		dnat ip to ip daddr . meta l4proto . th dport map @backends
	}

	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr . meta l4proto . th dport vmap @svc
		fib daddr type local meta l4proto . th dport vmap { tcp . 30000 : goto svc-a } comment "nodeports"
		jhash ip saddr mod 4 seed 0x1 vmap { 0 : accept, 1 : drop, 2 : goto ep1, 3 : goto ep2 }
		ct state established,related accept
		ct state new ct direction original accept
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		meta mark & 0x00004000 == 0x00004000 masquerade fully-random
		meta mark & 0x00004000 != 0x00004000 return
	}

	chain filter {
		type filter hook forward priority filter; policy accept;
		ip daddr 10.0.0.2 tcp dport 80 reject with tcp reset
		ip daddr 10.0.0.3 reject with icmp host-unreachable
		ip daddr 10.0.0.4 reject
		ip saddr != 10.0.0.0/12 ip saddr != @aff drop
	}
}

"""

    static let sluice6 = """
table ip6 sluice {
	map svc {
		type ipv6_addr . inet_proto . inet_service : verdict
		elements = { ::ffff:10.0.0.1 . sctp . 9 : drop,
			     fd00::1 . tcp . 80 : goto svc-a }
	}

	map backends {
		type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service
		elements = { fd00::1 . tcp . 80 : fd01::1 . 8080 }
	}

	set nets {
		type ipv6_addr
		flags interval
		elements = { ::1,
			     2001:db8::1-2001:db8::5,
			     fd00::/64 }
	}

	chain svc-a {
		meta l4proto tcp dnat to [fd00::5]:80
		dnat to fd00::6
		dnat ip6 to ip6 daddr . meta l4proto . th dport map @backends
	}

	chain prerouting {
		type nat hook prerouting priority dstnat - 5; policy accept;
		ip6 daddr . meta l4proto . th dport vmap @svc
	}

	chain input {
		comment "in"
		type filter hook input priority -200; policy drop;
		ip6 saddr fd00::/64 accept
		ip6 saddr fd00::/60 accept
		ip6 saddr @nets reject
		jhash ip6 saddr mod 2 seed 0xdeadbeef vmap { 0 : accept, 1 : drop }
		reject with icmpv6 addr-unreachable
	}
}

"""

    /// Element lists of every shape: wrapping by key type, nft's sort order (a concatenation
    /// sorts by its last byte first), intervals folded into prefixes and ranges, flags.
    static let sets = """
table ip a {
	set s1 {
		type ipv4_addr
		elements = { 10.0.0.1, 10.0.0.2,
			     10.0.0.3, 10.0.0.4,
			     10.0.0.5, 10.0.0.7,
			     10.0.0.9 }
	}

	set s2 {
		type inet_service
		elements = { 1, 2, 3, 4, 5,
			     7, 9, 10, 11, 12,
			     13, 14, 15 }
	}

	map m3 {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 10.0.0.2 . udp . 53 : goto c,
			     10.0.0.1 . tcp . 80 : goto c,
			     10.0.0.3 . tcp . 443 : accept }
	}

	set s4 {
		type ipv4_addr
		flags interval
		elements = { 0.0.0.0/8, 10.0.0.0/8,
			     172.16.0.1, 192.168.1.1-192.168.1.5 }
	}

	set s5 {
		type mark
		elements = { 0x00000001, 0x00000002, 0x00000003, 0x00000004, 0x00000005,
			     0x00000006, 0x00000007, 0x00000008 }
	}

	set s6 {
		type ipv4_addr
		size 100
		flags dynamic,timeout
		timeout 1d2h3m4s
		comment "cc"
	}

	map m7 {
		type ipv4_addr : ipv4_addr . inet_service
		flags interval
		elements = { 10.0.0.0/24 : 1.1.1.1 . 80, 10.1.0.0/29 : 2.2.2.2 . 90 }
	}

	set s8 {
		type ipv4_addr . inet_service
		flags interval
		elements = { 10.0.0.0/24 . 80-90,
			     10.1.0.1 . 22 }
	}

	set s9 {
		type ifname
		elements = { "lo",
			     "eth0",
			     "veth1" }
	}

	map m10 {
		type inet_service : verdict
		elements = { 1 : accept, 2 : drop, 3 : jump c, 4 : return, 5 : continue,
			     6 : goto c, 7 : accept }
	}

	set s11 {
		type inet_proto
		elements = { icmp, tcp, udp, sctp, 250 }
	}

	set s12 {
		type ipv4_addr
		flags constant
		elements = { 1.1.1.1 }
	}

	set empty {
		type ipv4_addr
	}

	set ports {
		type inet_service
		flags interval
		elements = { 0-10, 1024-2047, 30000-32767, 65535 }
	}

	set all4 {
		type ipv4_addr
		flags interval
		elements = { 0.0.0.0/0 }
	}

	set hi {
		type ipv4_addr
		flags interval
		elements = { 10.0.0.0-10.0.0.2, 255.255.255.0/24 }
	}

	map dm {
		type ipv4_addr : ipv4_addr
		elements = { 10.0.0.1 : 1.1.1.1, 10.0.0.2 : 1.1.1.2,
			     10.0.0.3 : 1.1.1.3 }
	}

	set f1 {
		type ipv4_addr
		flags timeout
	}

	set f2 {
		type ipv4_addr
		flags interval,timeout
		timeout 1m
	}

	set f4 {
		type ipv4_addr
		flags dynamic
	}

	set f5 {
		type ipv4_addr
		flags constant,interval
		elements = { 1.1.1.1 }
	}

	map f7 {
		type ipv4_addr : mark
		elements = { 1.1.1.1 : 0x00000001 }
	}

	map f8 {
		type inet_proto . inet_service : verdict
		flags interval
		elements = { tcp . 80-90 : accept }
	}

	map tm {
		type ipv4_addr : verdict
		timeout 1h
	}

	chain c {
	}
}
table ip6 b {
	comment "six"
	set v6 {
		type ipv6_addr
		flags interval
		elements = { ::1,
			     ::ffff:1.2.3.4,
			     2001:db8::1-2001:db8::5,
			     fd00::/64 }
	}

	set all6 {
		type ipv6_addr
		flags interval
		elements = { ::/0 }
	}

	chain c {
		comment "x"
	}
}

"""

    /// Named priorities within 10 of a standard one; dstnat/srcnat only on their hooks.
    static let chains = """
table ip6 b {
	chain d {
		type filter hook input priority filter - 5; policy drop;
	}

	chain e {
		type filter hook output priority mangle; policy accept;
	}

	chain f {
		type filter hook prerouting priority raw; policy accept;
	}

	chain g {
		type filter hook forward priority 17; policy accept;
	}

	chain h {
		type nat hook postrouting priority srcnat + 10; policy accept;
	}

	chain i {
		type filter hook forward priority -200; policy accept;
	}

	chain j {
		type filter hook forward priority 300; policy accept;
	}

	chain k {
		type route hook output priority mangle; policy accept;
	}

	chain p1 {
		comment "cmt"
		type filter hook input priority -100; policy accept;
	}

	chain p2 {
		type filter hook output priority 100; policy accept;
	}

	chain p3 {
		type nat hook prerouting priority dstnat + 5; policy accept;
	}

	chain p4 {
		type nat hook postrouting priority srcnat - 5; policy accept;
	}

	chain p5 {
		type filter hook forward priority filter + 10; policy accept;
	}

	chain p6 {
		type filter hook forward priority filter - 10; policy accept;
	}

	chain p7 {
		type filter hook forward priority -11; policy accept;
	}

	chain p8 {
		type filter hook forward priority 11; policy accept;
	}

	chain p9 {
		type filter hook forward priority security; policy accept;
	}

	chain pa {
		type nat hook output priority -100; policy accept;
	}

	chain pb {
		type nat hook input priority 100; policy accept;
	}

	chain pc {
		type filter hook forward priority raw - 10; policy accept;
	}

	chain pd {
		type filter hook forward priority raw + 10; policy accept;
	}
}

"""

    static func v4(_ s: String) -> Value { .ipv4(Fixtures.v4(s)) }
    static func v4b(_ s: String) -> [UInt8] { Fixtures.v4(s).bytes }
    static func v6b(_ s: String) -> [UInt8] { Fixtures.v6(s).bytes }
    static func prefixRange(_ s: String, _ data: ElementData? = nil) -> (start: [UInt8], end: [UInt8]?, data: ElementData?) {
        let p = Fixtures.prefix(s)
        return (p.address.bytes, p.end, data)
    }
    static func range(_ a: [UInt8], _ lastIncluded: [UInt8], _ data: ElementData? = nil) -> (start: [UInt8], end: [UInt8]?, data: ElementData?) {
        (a, incremented(lastIncluded), data)
    }
    static func incremented(_ b: [UInt8]) -> [UInt8]? {
        var b = b
        var i = b.count - 1
        while i >= 0 {
            if b[i] == 0xff { b[i] = 0; i -= 1 } else { b[i] += 1; return b }
        }
        return nil
    }
    static func port(_ p: UInt16) -> [UInt8] { Value.port(p).bytes }

    static var setsRuleset: Ruleset {
        let a = TableID(.ip, "a")
        let b = TableID(.ip6, "b")
        var r = Ruleset()
        r.tables = [Table(.ip, "a"), Table(.ip6, "b", comment: "six")]
        r.sets = [
            NFSet(a, "s1", key: [.ipv4Address], elements: ["10.0.0.9", "10.0.0.1", "10.0.0.5", "10.0.0.3", "10.0.0.2", "10.0.0.7", "10.0.0.4"].map { SetElement([v4($0)]) }),
            NFSet(a, "s2", key: [.inetService], elements: [9, 1, 5, 3, 2, 7, 4, 10, 11, 12, 13, 14, 15].map { SetElement([.port($0)]) }),
            NFSet(a, "m3", key: [.ipv4Address, .inetProto, .inetService], data: .verdict, elements: [
                SetElement([v4("10.0.0.1"), .proto(6), .port(80)], verdict: .goto("c")),
                SetElement([v4("10.0.0.2"), .proto(17), .port(53)], verdict: .goto("c")),
                SetElement([v4("10.0.0.3"), .proto(6), .port(443)], verdict: .accept),
            ]),
            NFSet(a, "s4", key: [.ipv4Address], flags: [.interval], elements: SetElement.intervals([
                prefixRange("10.0.0.0/8"), range(v4b("192.168.1.1"), v4b("192.168.1.5")), range(v4b("172.16.0.1"), v4b("172.16.0.1")), prefixRange("0.0.0.0/8"),
            ])),
            NFSet(a, "s5", key: [.mark], elements: (1...8).map { SetElement([.u32($0)]) }),
            NFSet(a, "s6", key: [.ipv4Address], flags: [.dynamic], timeoutMillis: 93_784_000, size: 100, comment: "cc"),
            NFSet(a, "m7", key: [.ipv4Address], data: .value([.ipv4Address, .inetService]), flags: [.interval], elements: SetElement.intervals([
                prefixRange("10.0.0.0/24", .value(Value.bytes([v4("1.1.1.1"), .port(80)]))),
                range(v4b("10.1.0.0"), v4b("10.1.0.7"), .value(Value.bytes([v4("2.2.2.2"), .port(90)]))),
            ])),
            NFSet(a, "s8", key: [.ipv4Address, .inetService], flags: [.interval], elements: [
                SetElement(key: Value.bytes([v4("10.0.0.0"), .port(80)]), keyEnd: Value.bytes([v4("10.0.0.255"), .port(90)])),
                SetElement(key: Value.bytes([v4("10.1.0.1"), .port(22)]), keyEnd: Value.bytes([v4("10.1.0.1"), .port(22)])),
            ]),
            NFSet(a, "s9", key: [.ifname], elements: ["eth0", "lo", "veth1"].map { SetElement(key: Array($0.utf8) + [UInt8](repeating: 0, count: 16 - $0.utf8.count)) }),
            NFSet(a, "m10", key: [.inetService], data: .verdict, elements: zip(1...7, [Verdict.accept, .drop, .jump("c"), .return, .continue, .goto("c"), .accept]).map {
                SetElement([.port(UInt16($0.0))], verdict: $0.1)
            }),
            NFSet(a, "s11", key: [.inetProto], elements: [6, 17, 132, 1, 250].map { SetElement([.proto($0)]) }),
            NFSet(a, "s12", key: [.ipv4Address], flags: [.constant], elements: [SetElement([v4("1.1.1.1")])]),
            NFSet(a, "empty", key: [.ipv4Address]),
            NFSet(a, "ports", key: [.inetService], flags: [.interval], elements: SetElement.intervals([
                range(port(1024), port(2047)), range(port(0), port(10)), range(port(30000), port(32767)), (port(65535), nil, nil),
            ])),
            NFSet(a, "all4", key: [.ipv4Address], flags: [.interval], elements: SetElement.intervals([prefixRange("0.0.0.0/0")])),
            NFSet(a, "hi", key: [.ipv4Address], flags: [.interval], elements: SetElement.intervals([
                prefixRange("255.255.255.0/24"), range(v4b("10.0.0.0"), v4b("10.0.0.2")),
            ])),
            NFSet(a, "dm", key: [.ipv4Address], data: .value([.ipv4Address]), elements: (1...3).map {
                SetElement([v4("10.0.0.\($0)")], value: [v4("1.1.1.\($0)")])
            }),
            NFSet(a, "f1", key: [.ipv4Address], flags: [.timeout]),
            NFSet(a, "f2", key: [.ipv4Address], flags: [.interval], timeoutMillis: 60_000),
            NFSet(a, "f4", key: [.ipv4Address], flags: [.dynamic]),
            NFSet(a, "f5", key: [.ipv4Address], flags: [.constant, .interval], elements: SetElement.intervals([range(v4b("1.1.1.1"), v4b("1.1.1.1"))])),
            NFSet(a, "f7", key: [.ipv4Address], data: .value([.mark]), elements: [SetElement([v4("1.1.1.1")], value: [.u32(1)])]),
            NFSet(a, "f8", key: [.inetProto, .inetService], data: .verdict, flags: [.interval], elements: [
                SetElement(key: Value.bytes([.proto(6), .port(80)]), keyEnd: Value.bytes([.proto(6), .port(90)]), data: .verdict(.accept)),
            ]),
            NFSet(a, "tm", key: [.ipv4Address], data: .verdict, timeoutMillis: 3_600_000),
            NFSet(b, "v6", key: [.ipv6Address], flags: [.interval], elements: SetElement.intervals([
                prefixRange("fd00::/64"), range(v6b("::1"), v6b("::1")), range(v6b("2001:db8::1"), v6b("2001:db8::5")),
                range(v6b("::ffff:1.2.3.4"), v6b("::ffff:1.2.3.4")),
            ])),
            NFSet(b, "all6", key: [.ipv6Address], flags: [.interval], elements: SetElement.intervals([prefixRange("::/0")])),
        ]
        r.chains = [Chain(a, "c"), Chain(b, "c", comment: "x")]
        return r
    }

    static var chainsRuleset: Ruleset {
        let b = TableID(.ip6, "b")
        let specs: [(String, ChainType, Hook, Int32, Verdict, String?)] = [
            ("d", .filter, .input, -5, .drop, nil), ("e", .filter, .output, -150, .accept, nil),
            ("f", .filter, .prerouting, -300, .accept, nil), ("g", .filter, .forward, 17, .accept, nil),
            ("h", .nat, .postrouting, 110, .accept, nil), ("i", .filter, .forward, -200, .accept, nil),
            ("j", .filter, .forward, 300, .accept, nil), ("k", .route, .output, -150, .accept, nil),
            ("p1", .filter, .input, -100, .accept, "cmt"), ("p2", .filter, .output, 100, .accept, nil),
            ("p3", .nat, .prerouting, -95, .accept, nil), ("p4", .nat, .postrouting, 95, .accept, nil),
            ("p5", .filter, .forward, 10, .accept, nil), ("p6", .filter, .forward, -10, .accept, nil),
            ("p7", .filter, .forward, -11, .accept, nil), ("p8", .filter, .forward, 11, .accept, nil),
            ("p9", .filter, .forward, 50, .accept, nil), ("pa", .nat, .output, -100, .accept, nil),
            ("pb", .nat, .input, 100, .accept, nil), ("pc", .filter, .forward, -310, .accept, nil),
            ("pd", .filter, .forward, -290, .accept, nil),
        ]
        return Ruleset(
            tables: [Table(.ip6, "b")],
            chains: specs.map { Chain(b, $0.0, base: BaseChain(type: $0.1, hook: $0.2, priority: $0.3, policy: $0.4), comment: $0.5) })
    }
}
