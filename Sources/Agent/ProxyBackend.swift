import NetworkTypes
import ProxyCore

/// A service port as the last successful sync left it and as it is now.
public struct ServicePortChange: Sendable {
    public var key: ServicePortKey
    /// nil: the port is new.
    public var previous: ServicePortInfo?
    /// nil: the port is gone.
    public var current: ServicePortInfo?

    public init(key: ServicePortKey, previous: ServicePortInfo?, current: ServicePortInfo?) {
        self.key = key
        self.previous = previous
        self.current = current
    }
}

/// What a sync sent to the kernel, and what it found worth telling an operator.
public struct SyncReport: Sendable {
    public enum Kind: String, Sendable {
        /// Everything, against what the kernel holds (start-up, after a failure, a new node config).
        case full
        /// The service ports that changed since the last sync.
        case partial
        /// What the kernel lost or gained behind the backend's back, put back.
        case repair
    }

    public var kind: Kind
    /// Commands sent to the kernel in one transaction; 0: the kernel already matched.
    public var commands: Int
    /// Frontends two Services claim, conntrack entries that could not be deleted, ...
    public var warnings: [String]
    /// Time spent turning service ports into the kernel's objects and the transaction.
    public var planning: Duration = .zero
    /// Time spent reading the kernel back and sending the transaction, until it was accepted.
    public var kernel: Duration = .zero

    public init(kind: Kind, commands: Int, warnings: [String] = []) {
        self.kind = kind
        self.commands = commands
        self.warnings = warnings
    }
}

/// What `sluice diff` compares the desired state with.
public enum PlanBaseline: String, Sendable, CaseIterable {
    /// What the kernel holds now.
    case live
    /// A node without any of Sluice's objects.
    case empty
}

/// What a full sync would change, without changing anything.
public struct Plan: Sendable {
    /// Commands the sync would send; 0: nothing would change.
    public var commands: Int
    /// The commands as the backend's own tool writes them (`nft` syntax for nftables).
    public var text: String

    public var isEmpty: Bool { commands == 0 }

    public init(commands: Int, text: String) {
        self.commands = commands
        self.text = text
    }
}

/// A backend programs service ports into the kernel. Each call is one kernel transaction:
/// all of it applies or none of it does, and when it fails the backend's idea of the kernel
/// stays what it was, so the pipeline can retry with a full sync. A backend is used by one
/// owner at a time (the pipeline), never concurrently.
public protocol ProxyBackend: AnyObject {
    /// The name kube-proxy's `/proxyMode` answers with: `nftables`, `ipvs`.
    var mode: String { get }

    /// The node's configuration changed (addresses, masquerade, CIDRs): used from the next
    /// full sync on.
    func configure(_ node: NodeContext)

    /// Makes the kernel hold exactly `ports` (sorted by key): reads the kernel back and sends
    /// the difference.
    func fullSync(_ ports: [ServicePortInfo]) throws -> SyncReport

    /// Sends what `changes` change, relative to the last successful sync.
    func sync(_ changes: [ServicePortChange]) throws -> SyncReport

    /// Reads the kernel back and puts back what differs from the last successful sync (someone
    /// flushed a table or edited an element). Sends nothing when the kernel matches.
    func repair() throws -> SyncReport

    /// What a full sync of `ports` would send, against `baseline`. Never writes.
    func plan(_ ports: [ServicePortInfo], against baseline: PlanBaseline) throws -> Plan

    /// Removes everything this backend owns from the kernel, and nothing else. Returns how
    /// many objects (tables, services) it removed.
    func cleanUp() throws -> Int
}
