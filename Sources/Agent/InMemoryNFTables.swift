import NFTables

/// A kernel in memory for tests and dry runs: applies transactions to a `Ruleset` with the
/// kernel's own refusals (`Ruleset.applying`), and can be told to refuse every batch, as a
/// kernel under memory pressure or with a conflicting object would.
public final class InMemoryNFTables: NFTablesKernel {
    public private(set) var ruleset: Ruleset
    /// Batches sent and accepted.
    public private(set) var transactions: [Transaction] = []
    /// While set, every batch is refused with this error and nothing changes.
    public var refuseWith: (any Error)?

    public init(_ ruleset: Ruleset = Ruleset()) { self.ruleset = ruleset }

    public func apply(_ transaction: Transaction) throws {
        if let refuseWith { throw refuseWith }
        ruleset = try ruleset.applying(transaction)
        transactions.append(transaction)
    }

    public func ruleset(tables: Set<TableID>?) throws -> Ruleset {
        tables.map { ruleset.restricted(to: $0) } ?? ruleset
    }

    /// Changes the ruleset behind the backend's back (drift, as `nft flush table` would).
    public func tamper(_ change: (inout Ruleset) -> Void) { change(&ruleset) }
}
