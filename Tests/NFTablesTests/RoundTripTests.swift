import NFTables
import Testing

/// Loads our rendering into a throwaway namespace with `nft -f` and checks that
/// `nft list ruleset` prints it back unchanged (DESIGN.md, "The ruleset", requirement 5).
@Suite(.enabled(if: LiveNFT.isAvailable, "needs root and nft"))
struct RoundTripTests {
    @Test(arguments: Fixtures.all.keys.sorted())
    func listingEqualsRendering(_ name: String) throws {
        let text = try #require(Fixtures.all[name]).nftText
        let listed = try LiveNFT.load(text)
        #expect(listed == text, "\(name)")
    }
}

/// nft, given our rendering, builds exactly our expressions: so a listing re-loaded with
/// `nft -f` gives back the same rules, and the builders match nft 1.0.6.
@Suite(.enabled(if: LiveNFT.isAvailable, "needs root and nft"))
struct BuilderParityTests {
    @Test(arguments: Fixtures.all.keys.sorted() + ["rule cases ip", "rule cases ip6"])
    func nftBuildsOurExpressions(_ name: String) throws {
        let ruleset = try #require(Fixtures.all[name] ?? RuleCase.rulesets[name])
        let debug = try LiveNFT.netlinkDebug(ruleset.nftText)
        let theirs = NetlinkDebug.rules(inDebugOutput: debug)
        // nft sends rules in the order of the text: chain by chain.
        let ordered = ruleset.chains.flatMap { c in ruleset.rules.filter { $0.chain == c.id } }
        #expect(theirs.count == ordered.count)
        for (t, rule) in zip(theirs, ordered) {
            #expect(t.map(NetlinkDebug.kernelForm) == NetlinkDebug.lines(rule).map(NetlinkDebug.kernelForm), "\(rule.nftStatementText)")
        }
    }
}
