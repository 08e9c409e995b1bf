import Netfilter
import NetworkTypes
import NFTables
import SluiceTestSupport
import Testing

@Suite("Netfilter: failed transactions name the object and leave the kernel as it was")
struct ErrorTests {
    static let table = TableID(.ip, "sluice")

    /// Applies the representative ruleset, then `bad`; returns the error and whether the kernel
    /// still holds exactly the representative ruleset.
    func failing(_ bad: Transaction, configure: (NFTablesConnection) -> Void = { _ in }) throws -> (NetfilterError?, Bool) {
        let ns = try NetworkNamespace()
        defer { ns.delete() }
        return try ns.enter {
            let conn = try NFTablesConnection()
            try conn.apply(Fixtures.representative)
            let before = try conn.ruleset()
            configure(conn)
            var caught: NetfilterError?
            do {
                try conn.apply(bad)
            } catch let e as NetfilterError {
                caught = e
            }
            let after = try conn.ruleset()
            return (caught, after.normalized == before.normalized)
        }
    }

    /// A valid change that must not survive when a later command of the same batch fails.
    static var harmlessAddition: Transaction {
        var t = Transaction()
        t.add(Chain(table, "should-not-exist"))
        t.add([SetElement([.ipv4(IPv4Address(10, 96, 9, 9)), .proto(IPProtocol.tcp), .port(1)], verdict: .drop)], to: "services", in: table)
        return t
    }

    @Test("a rule that jumps to a missing chain")
    func jumpToMissingChain() throws {
        var t = Self.harmlessAddition
        t.add(Rule(ChainID(Self.table, "svc-web"), [.verdict(.jump("no-such-chain"))], comment: "ns/broken:http"))
        let (error, unchanged) = try failing(t)
        #expect(error?.kind == .rejected)
        #expect(error?.errno == 2)
        #expect(error?.object == "add rule to chain ip sluice svc-web (ns/broken:http)")
        #expect(unchanged)
    }

    @Test("creating a table that exists")
    func duplicateCreate() throws {
        var t = Self.harmlessAddition
        t.create(Table(.ip, "sluice"))
        let (error, unchanged) = try failing(t)
        #expect(error?.kind == .rejected)
        #expect(error?.errno == 17)
        #expect(error?.object == "create table ip sluice")
        #expect(error?.description.contains("EEXIST") == true)
        #expect(unchanged)
    }

    @Test("an element of the wrong key length, caught by the kernel")
    func wrongKeyLengthKernel() throws {
        var t = Self.harmlessAddition
        t.add([SetElement(key: [10, 96, 0, 1], data: .verdict(.drop))], to: "services", in: Self.table)
        let (error, unchanged) = try failing(t)
        #expect(error?.kind == .rejected)
        #expect(error?.errno == 22)
        #expect(error?.object == "add 1 element(s) of set ip sluice services")
        #expect(unchanged)
    }

    @Test("an element of the wrong key length, caught before sending")
    func wrongKeyLengthValidation() throws {
        var t = Self.harmlessAddition
        t.know(NFSet(Self.table, "services", key: [.ipv4Address, .inetProto, .inetService], data: .verdict))
        t.add([SetElement(key: [10, 96, 0, 1], data: .verdict(.drop))], to: "services", in: Self.table)
        let (error, unchanged) = try failing(t)
        #expect(error?.kind == .invalid)
        #expect(error?.object == "set ip sluice services: element key is 4 bytes; the set's key (ipv4_addr . inet_proto . inet_service) is 12")
        #expect(unchanged)
    }

    @Test("a batch larger than one message may carry")
    func oversizedBatch() throws {
        var t = Self.harmlessAddition
        for i in 0..<2000 { t.add(Chain(Self.table, "extra-\(i)")) }
        let (error, unchanged) = try failing(t) { $0.maxBatchBytes = 64 * 1024 }
        guard case .batchTooLarge(let bytes, let limit)? = error?.kind else {
            Issue.record("expected batchTooLarge, got \(String(describing: error))")
            return
        }
        #expect(limit == 64 * 1024)
        #expect(bytes > limit)
        #expect(error?.object == "the batch of 2002 commands")
        #expect(unchanged)
    }

    @Test("validation rejects what the kernel could not accept, before anything is sent")
    func validationTable() {
        let cases: [(Transaction.Command, String)] = [
            (.addChain(Chain(Self.table, String(repeating: "x", count: 300))), "the chain name is 300 bytes; the kernel allows 255"),
            (.addRule(Rule(ChainID(Self.table, "c"), [])), "the rule has no expressions"),
            (.addRule(Rule(ChainID(Self.table, "c"), [.cmp(.eq, .r1, [])])), "expression 1: cmp data of 0 bytes is not 1…16"),
            (.addRule(Rule(ChainID(Self.table, "c"), [.payload(base: .network, offset: 0, length: 4, into: Register(rawValue: 5))])),
             "expression 1: reg 5 is not a data register"),
            (.addRule(Rule(ChainID(Self.table, "c"), [.numgen(.random, modulus: 0, offset: 0, into: .r1)])), "expression 1: numgen modulus is 0"),
            (.addSet(NFSet(Self.table, "m", key: [.ipv4Address], data: .verdict, elements: [SetElement([.ipv4(IPv4Address(1, 2, 3, 4))], value: [.port(1)])])),
             "verdict map element has a value, not a verdict"),
            (.addSet(NFSet(Self.table, "s", key: [.ipv4Address], elements: [SetElement(key: [1, 2, 3, 4], intervalEnd: true)])),
             "a range element needs an interval set"),
            (.addTable(Table(.ip, "t", comment: String(repeating: "c", count: 129))), "the comment is 129 bytes; nft allows 128"),
        ]
        for (command, reason) in cases {
            var t = Transaction()
            t.append(command)
            #expect(t.firstError?.reason == reason)
        }
    }
}
