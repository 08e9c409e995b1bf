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
