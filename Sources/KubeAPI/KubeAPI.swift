// KubeAPI: Sluice's Kubernetes API client.
//
// Owns: cluster configuration (in-cluster, kubeconfig with contexts, token files, exec
// plugins); Codable models of Service, EndpointSlice, Node, Status and WatchEvent with the
// API's defaults for missing fields; label and field selectors; a list+watch `Reflector` per
// resource that keeps an `ObjectStore` equal to the server's state through paging, watch
// resumption, 410 relists, Retry-After, backoff and credential rotation.
//
// Never: writes to the API server, logs a credential, turns TLS verification off unless the
// configuration says so (and then warns), or holds a whole watch stream in memory.
//
// Use:
//     let config = try ClusterConfig.load(kubeconfig: flag, logger: logger)
//     let client = try KubeClient(config: config, logger: logger)
//     let services = ObjectStore<Service>()
//     let reflector = Reflector(client: client, store: services, options: .services(proxyName: nil), logger: logger)
//     async let _ = reflector.run()
//     for await batch in services.changes() { ... }   // [StoreEvent<Service>]
