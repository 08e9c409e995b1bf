import Agent
import Foundation
import NetworkTypes
import NIOCore
import SluiceTestSupport
import Testing

@Suite("Listening as deployed: fixed ports and wildcard addresses, inside a private network namespace")
struct NamespaceTests {
    @Test("0.0.0.0 listens on IPv4 and IPv6, as Go's listener (kube-proxy's) does; healthCheckNodePorts too")
    func wildcardIsDualStack() async throws {
        let namespace = try NetworkNamespace()
        defer { namespace.delete() }
        let executor = try NamespaceExecutor(namespace)
        defer { executor.shutdown() }
        try await withTaskExecutorPreference(executor) {
            let health = ProxyHealth(families: [.v4, .v6], syncPeriod: .seconds(30))
            let servers = ServiceHealthServers(health: health, metrics: nil, logger: quiet)
            try await withRunning({ HealthzServer(address: BindAddress("0.0.0.0:10256")!, health: health, metrics: nil,
                                                  logger: quiet, onListening: $0) }) { bound in
                #expect(bound.port == 10256)
                for host in ["127.0.0.1", "::1"] {
                    let answer = try await get(SocketAddress(ipAddress: host, port: 10256), "/livez")
                    #expect(answer.status == 200, "\(host)")
                }
                try await withService(servers) {
                    servers.update([HealthCheckedService(namespace: "ns", name: "lb", port: 30000, localEndpoints: 1)])
                    await servers.reconciled()
                    #expect(servers.failures.isEmpty)
                    for host in ["127.0.0.1", "::1"] {
                        let answer = try await get(SocketAddress(ipAddress: host, port: 30000), "/")
                        #expect(answer.status == 200, "\(host)")
                    }
                }
            }
        }
    }
}
