import Netfilter
import NFTables
import SluiceTestSupport
import Testing

@Suite("Netfilter: batches and readback in a private network namespace")
struct ReadbackTests {
    @Test("readback returns exactly what was asked")
    func readbackEqualsModel() throws {
        let ns = try NetworkNamespace()
        defer { ns.delete() }
        let want = Fixtures.representative
        let got = try ns.enter {
            let conn = try NFTablesConnection()
            try conn.apply(want)
            return try conn.ruleset()
        }
        let expected = Ruleset(adding: want.commands).normalized
        #expect(got.normalized.tables == expected.tables)
        #expect(got.normalized.chains == expected.chains)
        #expect(got.normalized.sets == expected.sets)
        #expect(got.normalized.rules == expected.rules)
    }

    @Test("nft lists it and re-loads the listing into a fresh namespace to the same values")
    func nftRoundTrip() throws {
        let ns = try NetworkNamespace()
        let fresh = try NetworkNamespace()
        defer {
            ns.delete()
            fresh.delete()
        }
        let want = Fixtures.representative
        let first = try ns.enter {
            let conn = try NFTablesConnection()
            try conn.apply(want)
            return try conn.ruleset()
        }
        let listing = try ns.exec(["nft", "list", "ruleset"]).stdout
        // What nft prints of what we wrote is exactly our own rendering of it.
        #expect(listing == first.nftText)
        try fresh.exec(["nft", "-f", "-"], input: listing)
        let second = try fresh.enter { try NFTablesConnection().ruleset() }
        #expect(second.normalized == first.normalized, "listing:\n\(listing)")
    }
}
