import NetworkTypes
import NFTables
import Testing

/// Each command as the `nft -f` line `sluice diff` prints.
struct TransactionTextTests {
    static let t = Fixtures.ip
    static let svc = NFSet(t, "svc", key: [.ipv4Address, .inetProto, .inetService], data: .verdict)
    static let nets = NFSet(t, "nets", key: [.ipv4Address], flags: [.interval])
    static let key: [Value] = [.ipv4(Fixtures.v4("10.0.0.1")), .proto(IPProtocol.tcp), .port(80)]
    static let c = ChainID(t, "c")

    @Test(arguments: [
        (Transaction.Command.addTable(Table(.ip, "sluice")), "add table ip sluice"),
        (.createTable(Table(.ip6, "sluice", comment: "x")), "create table ip6 sluice { comment \"x\"; }"),
        (.deleteTable(t), "delete table ip sluice"),
        (.flushTable(t), "flush table ip sluice"),
        (.addChain(Chain(t, "c", comment: "ns/a:http")), "add chain ip sluice c { comment \"ns/a:http\"; }"),
        (
            .createChain(Chain(t, "post", base: BaseChain(type: .nat, hook: .postrouting, priority: 100))),
            "create chain ip sluice post { type nat hook postrouting priority srcnat; policy accept; }"
        ),
        (.deleteChain(c), "delete chain ip sluice c"),
        (.flushChain(c), "flush chain ip sluice c"),
        (.addRule(Rule(c, [.verdict(.accept)], comment: "x")), "add rule ip sluice c accept comment \"x\""),
        (.insertRule(Rule(c, Statement.masquerade())), "insert rule ip sluice c masquerade"),
        (.replaceRule(Rule(c, [.verdict(.drop)]), handle: 7), "replace rule ip sluice c handle 7 drop"),
        (.deleteRule(c, handle: 7), "delete rule ip sluice c handle 7"),
        (
            .addSet(NFSet(t, "aff", key: [.ipv4Address], flags: [.dynamic], timeoutMillis: 10_800_000, size: 65535)),
            "add set ip sluice aff { type ipv4_addr; size 65535; flags dynamic,timeout; timeout 3h; }"
        ),
        (.addSet(svc), "add map ip sluice svc { type ipv4_addr . inet_proto . inet_service : verdict; }"),
        (.deleteSet(t, "svc"), "delete map ip sluice svc"),
        (.flushSet(t, "nets"), "flush set ip sluice nets"),
        (.addElements(t, set: "svc", [SetElement(key, verdict: .goto("c"), comment: "ns/a:http")]), "add element ip sluice svc { 10.0.0.1 . tcp . 80 comment \"ns/a:http\" : goto c }"),
        (.deleteElements(t, set: "svc", [SetElement(key, verdict: .goto("c"))]), "delete element ip sluice svc { 10.0.0.1 . tcp . 80 }"),
        (
            .addElements(t, set: "nets", SetElement.intervals([([10, 0, 0, 0], [11, 0, 0, 0], nil), ([192, 168, 0, 1], [192, 168, 0, 3], nil)])),
            "add element ip sluice nets { 10.0.0.0/8, 192.168.0.1-192.168.0.2 }"
        ),
        // A set the transaction was not told about: keys as raw bytes.
        (.addElements(t, set: "other", [SetElement(key: [10, 0, 0, 1])]), "add element ip sluice other { 0x0a000001 }"),
    ])
    func command(_ command: Transaction.Command, _ text: String) {
        var tx = Transaction()
        tx.know(Self.svc)
        tx.know(Self.nets)
        #expect(tx.nftText(of: command) == text)
    }

    @Test func script() {
        var tx = Transaction()
        tx.add(Table(.ip, "sluice"))
        tx.add(Self.svc)
        tx.add(Rule(Self.c, Statement.vmap(Fixtures.dispatch, .named("svc"))))
        #expect(tx.nftText == """
            add table ip sluice
            add map ip sluice svc { type ipv4_addr . inet_proto . inet_service : verdict; }
            add rule ip sluice c ip daddr . meta l4proto . th dport vmap @svc

            """)
    }
}
