import NFTables
import Synchronization

/// A kernel in memory for tests and dry runs: applies transactions to a `Ruleset` with the
/// kernel's own refusals (`Ruleset.applying`), and can be told to refuse every batch, as a
/// kernel under memory pressure or with a conflicting object would. Safe to inspect and
/// tamper with from another task while an agent uses it.
public final class InMemoryNFTables: NFTablesKernel, Sendable {
    private struct State {
        var ruleset: Ruleset
        var transactions: [Transaction] = []
        var refusal: (any Error & Sendable)?
    }
    private let state: Mutex<State>

    public init(_ ruleset: Ruleset = Ruleset()) { state = Mutex(State(ruleset: ruleset)) }

    /// What the kernel holds.
    public var ruleset: Ruleset { state.withLock { $0.ruleset } }
    /// Batches sent and accepted.
    public var transactions: [Transaction] { state.withLock { $0.transactions } }

    /// While set, every batch is refused with this error and nothing changes.
    public func refuse(with error: (any Error & Sendable)?) { state.withLock { $0.refusal = error } }

    public func apply(_ transaction: Transaction) throws {
        try state.withLock { s in
            if let refusal = s.refusal { throw refusal }
            s.ruleset = try s.ruleset.applying(transaction)
            s.transactions.append(transaction)
        }
    }

    public func ruleset(tables: Set<TableID>?) throws -> Ruleset {
        let r = ruleset
        return tables.map { r.restricted(to: $0) } ?? r
    }

    /// Changes the ruleset behind the backend's back (drift, as `nft flush table` would).
    public func tamper(_ change: (inout Ruleset) -> Void) { state.withLock { change(&$0.ruleset) } }
}
