// Agent: the one pipeline from Kubernetes objects to the kernel, and the runtime around it.
//
// Owns: `ProxyPipeline` (objects → `ServiceChangeTracker` → a `ProxyBackend` → the kernel),
// the rule for failure (a batch the kernel refuses leaves the kernel and the backend's state
// as they were, and the next sync is a full one), the nftables backend (`NFTablesBackend`:
// the proxier, the netlink connection, conntrack cleanup), and the agent's runtime.
//
// Never: parses flags (the `sluice` executable does), builds the desired state twice for
// one sync, or lets a backend believe what the kernel has not accepted.
//
// Every entry point calls the same path:
//     var pipeline = ProxyPipeline(node: context, backend: try NFTablesBackend(node: context))
//     pipeline.load(services: ..., slices: ..., nodes: ...)     // or record(_ event:) from a watch
//     let outcome = pipeline.sync()                              // full first, then partial
//     let plan = try pipeline.plan(against: .live)               // sluice diff: never writes
