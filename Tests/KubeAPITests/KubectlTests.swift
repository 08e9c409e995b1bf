import Foundation
import KubeAPI
import KubeAPITesting
import KubeModels
import Testing

/// Runs a command with a deadline; returns (status, stdout, stderr).
func runCommand(_ path: String, _ args: [String], environment: [String: String]? = nil, timeout: Duration = .seconds(30)) async throws -> (Int32, String, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    if let environment { p.environment = environment }
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    // Read both pipes concurrently so a chatty child cannot block on a full pipe.
    async let o = Task.detached { out.fileHandleForReading.readDataToEndOfFile() }.value
    async let e = Task.detached { err.fileHandleForReading.readDataToEndOfFile() }.value
    let killer = Task.detached {
        try await Task.sleep(for: timeout)
        if p.isRunning { p.terminate() }
    }
    let (od, ed) = await (o, e)
    p.waitUntilExit()
    killer.cancel()
    return (p.terminationStatus, String(decoding: od, as: UTF8.self), String(decoding: ed, as: UTF8.self))
}

/// A kubeconfig for the simulator: CA inline, a bearer token, one context.
func writeKubeconfig(for sim: KubeAPISimulator, token: String, in dir: URL) throws -> String {
    let path = dir.appendingPathComponent("kubeconfig").path
    try sim.kubeconfig(token: token).write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite(.timeLimit(.minutes(1))) struct RealKubectl {
    static let kubectl = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: kubectl != nil, "kubectl is not installed: the real-client test is skipped"))
    func kubectlReadsWhatTheSimulatorServes() async throws {
        let kubectl = try #require(Self.kubectl)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kubectl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try await withSimulator(SimulatorOptions(tokens: ["kubectl-token": "admin"])) { sim in
            try sim.create(service("default", "kubernetes", ip: "10.96.0.1", port: 443))
            try sim.create(service("shop", "web", ip: "10.96.0.20"))
            try sim.create(service("shop", "db", ip: "None", port: 5432))
            try sim.create(slice("shop", "web-abcde", service: "web", ips: ["10.244.1.5", "10.244.2.7"]))
            try sim.create(slice("shop", "db-xyz", service: "db", ips: ["10.244.1.9"], labels: [ProxyLabel.headless: ""]))
            let config = try writeKubeconfig(for: sim, token: "kubectl-token", in: dir)
            var env = ProcessInfo.processInfo.environment
            env["KUBECONFIG"] = config
            env["HOME"] = dir.path
            let (st1, out1, err1) = try await runCommand(kubectl, ["get", "services", "-A"], environment: env)
            #expect(st1 == 0, "kubectl get services failed: \(err1)")
            // Columns: NAMESPACE NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE
            let rows = out1.split(separator: "\n").dropFirst().map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
            let got = rows.map { Array($0.prefix(6)) }
            let want = sim.objects(Service.self).map { s in
                [s.metadata.namespace ?? "", s.metadata.name, s.spec.type ?? "ClusterIP", s.spec.clusterIP ?? "", "<none>",
                 s.spec.ports.map { "\($0.port)/\($0.protocol.rawValue)" }.joined(separator: ",")]
            }
            #expect(got == want, "kubectl printed:\n\(out1)\n\(err1)")

            let (st2, out2, err2) = try await runCommand(kubectl, ["get", "endpointslices", "-A", "-o", "json"], environment: env)
            #expect(st2 == 0, "kubectl get endpointslices failed: \(err2)")
            let list = try KubeDecoding.decode(ObjectList<EndpointSlice>.self, from: Data(out2.utf8))
            #expect(list.items == sim.objects(EndpointSlice.self))
            let (st3, out3, err3) = try await runCommand(kubectl, ["get", "service", "web", "-n", "shop", "-o", "json"], environment: env)
            #expect(st3 == 0, "kubectl get service web failed: \(err3)")
            #expect(try KubeDecoding.decode(Service.self, from: Data(out3.utf8)) == sim.object(Service.self, namespace: "shop", name: "web"))
            let (st4, _, err4) = try await runCommand(kubectl, ["get", "service", "nope", "-n", "shop"], environment: env)
            #expect(st4 != 0 && err4.contains(#"services "nope" not found"#), "kubectl reads the 404 Status: \(err4)")
            let (st5, out5, _) = try await runCommand(kubectl, ["get", "namespaces", "-o", "name"], environment: env)
            #expect(st5 == 0 && out5.split(separator: "\n") == ["namespace/default", "namespace/kube-node-lease", "namespace/kube-public", "namespace/kube-system", "namespace/shop"])
            #expect(sim.requests.allSatisfy { $0.user == "admin" })
        }
    }
}
