import Foundation
import KubeAPI
import KubeAPITesting
import KubeModels
import Testing

func temporaryDirectory(_ name: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

@Suite(.timeLimit(.minutes(1))) struct Configuration {
    @Test func kubeconfigContextsRelativePathsAndMerging() throws {
        let dir = try temporaryDirectory("kubeconfig")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("certs"), withIntermediateDirectories: true)
        try "CA-PEM".write(to: dir.appendingPathComponent("certs/ca.pem"), atomically: true, encoding: .utf8)
        try "tok-from-file".write(to: dir.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        let first = """
        apiVersion: v1
        kind: Config
        current-context: prod
        clusters:
        - name: prod
          cluster:
            server: https://prod.example:6443
            certificate-authority: certs/ca.pem
            tls-server-name: api.prod
        - name: dev
          cluster:
            server: https://dev.example:6443
            insecure-skip-tls-verify: true
        users:
        - name: ops
          user:
            tokenFile: token
        contexts:
        - name: prod
          context: {cluster: prod, user: ops, namespace: kube-system}
        """
        let second = """
        apiVersion: v1
        kind: Config
        current-context: dev
        clusters:
        - name: prod
          cluster: {server: "https://shadowed.example"}
        users:
        - name: dev-user
          user:
            token: inline-token
            client-certificate-data: \(Data("CERT".utf8).base64EncodedString())
            client-key-data: \(Data("KEY".utf8).base64EncodedString())
        contexts:
        - name: dev
          context: {cluster: dev, user: dev-user}
        """
        let p1 = dir.appendingPathComponent("a.yaml").path
        let p2 = dir.appendingPathComponent("b.yaml").path
        try first.write(toFile: p1, atomically: true, encoding: .utf8)
        try second.write(toFile: p2, atomically: true, encoding: .utf8)

        let prod = try ClusterConfig.load(environment: ["KUBECONFIG": "\(p1):\(p2)"], logger: quietLogger)
        #expect(prod.server == "https://prod.example:6443", "first file wins for a name both define")
        #expect(prod.tls.certificateAuthorityPEM == Array("CA-PEM".utf8), "relative to the kubeconfig's folder")
        #expect(prod.tls.serverName == "api.prod")
        #expect(prod.namespace == "kube-system")
        guard case .tokenFile(let path) = prod.credentials.source else {
            Issue.record("expected a token file, got \(prod.credentials.source)")
            return
        }
        #expect(path == dir.appendingPathComponent("token").path)
        #expect(!"\(prod)".contains("tok-from-file"))

        let dev = try Kubeconfig.load(paths: [p1, p2]).clusterConfig(context: "dev", logger: quietLogger)
        #expect(dev.server == "https://dev.example:6443")
        #expect(dev.tls.insecureSkipVerify)
        #expect(dev.tls.clientCertificatePEM == Array("CERT".utf8))
        #expect(dev.tls.clientKeyPEM == Array("KEY".utf8))
        #expect("\(dev)".contains("token(redacted)"))
        #expect(!"\(dev)".contains("inline-token"))

        #expect(throws: ConfigError.self) { try Kubeconfig.load(paths: [p1]).clusterConfig(context: "nope", logger: quietLogger) }
        #expect(throws: ConfigError.self) { try ClusterConfig.load(environment: [:], logger: quietLogger) }
    }

    @Test func inClusterConfiguration() async throws {
        let dir = try temporaryDirectory("serviceaccount")
        defer { try? FileManager.default.removeItem(at: dir) }
        try "sa-token-1\n".write(to: dir.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try "CA".write(to: dir.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
        let env = ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"]
        let c = try ClusterConfig.inCluster(environment: env, serviceAccountDirectory: dir.path, tokenFileMaxAge: .milliseconds(50))
        #expect(c.server == "https://[fd00::1]:443")
        #expect(c.tls.certificateAuthorityPEM == Array("CA".utf8))
        #expect(try await c.credentials.token() == "sa-token-1")
        try "sa-token-2\n".write(to: dir.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        #expect(try await c.credentials.token() == "sa-token-1", "cached while fresh")
        try await Task.sleep(for: .milliseconds(80))
        #expect(try await c.credentials.token() == "sa-token-2", "re-read once older than the max age")
        try "sa-token-3\n".write(to: dir.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        await c.credentials.invalidate()
        #expect(try await c.credentials.token() == "sa-token-3", "re-read after a 401")
        #expect(throws: ConfigError.self) { try ClusterConfig.inCluster(environment: [:], serviceAccountDirectory: dir.path) }
    }

    @Test func kubeconfigWithExecPluginTalksToTheSimulatorOverVerifiedTLS() async throws {
        let dir = try temporaryDirectory("exec")
        defer { try? FileManager.default.removeItem(at: dir) }
        let counter = dir.appendingPathComponent("calls").path
        let plugin = dir.appendingPathComponent("get-token.sh").path
        try """
        #!/bin/sh
        echo x >> "\(counter)"
        test -n "$KUBERNETES_EXEC_INFO" || exit 3
        echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token","expirationTimestamp":"2099-01-01T00:00:00Z"}}'
        """.write(toFile: plugin, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: plugin)
        try await withSimulator(SimulatorOptions(tokens: ["exec-token": "exec-user"])) { sim in
            try sim.create(service("a", "b"))
            let ca = Data((sim.certificateAuthorityPEM ?? "").utf8).base64EncodedString()
            let yaml = """
            clusters:
            - name: sim
              cluster: {server: "\(sim.baseURL)", certificate-authority-data: \(ca)}
            users:
            - name: u
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1
                  command: ./get-token.sh
            contexts:
            - name: sim
              context: {cluster: sim, user: u}
            current-context: sim
            """
            let path = dir.appendingPathComponent("config").path
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            let config = try ClusterConfig.load(kubeconfig: path, logger: quietLogger)
            let client = try KubeClient(config: config, logger: quietLogger)
            let list = try await client.list(Service.self)
            #expect(list.items == sim.objects(Service.self))
            _ = try await client.list(Service.self)
            #expect(sim.requests.map(\.user) == ["exec-user", "exec-user"])
            let calls = try String(contentsOfFile: counter, encoding: .utf8).split(separator: "\n").count
            #expect(calls == 1, "the token is cached until it expires")
            try await client.shutdown()

            // TLS is verified by default: without the simulator's CA the connection fails.
            let untrusted = try KubeClient(config: ClusterConfig(server: sim.baseURL, credentials: Credentials(.token("exec-token"))), logger: quietLogger, connectTimeout: .milliseconds(500))
            await #expect { _ = try await untrusted.list(Service.self) } throws: { e in
                if case .transport = e as? KubeAPIError { return true }
                return false
            }
            try await untrusted.shutdown()
        }
    }

    @Test func failingExecPluginReportsItsStderr() async throws {
        let dir = try temporaryDirectory("exec-fail")
        defer { try? FileManager.default.removeItem(at: dir) }
        let plugin = dir.appendingPathComponent("fail.sh").path
        try "#!/bin/sh\necho 'please run: cloud login' >&2\nexit 7\n".write(toFile: plugin, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: plugin)
        let credentials = Credentials(.exec(ExecConfig(command: plugin)))
        await #expect {
            _ = try await credentials.token()
        } throws: { e in
            "\(e)".contains("status 7") && "\(e)".contains("please run: cloud login")
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct TLSServerName {
    @Test func verifiesTheConfiguredServerNameInsteadOfTheURLHost() async throws {
        // A certificate that names only kubernetes.default.svc, served on 127.0.0.1.
        try await withSimulator(SimulatorOptions(certificateHostnames: ["kubernetes.default.svc"], certificateNamesLoopback: false)) { sim in
            try sim.create(service("a", "b"))
            let ca = sim.certificateAuthorityPEM.map { Array($0.utf8) }
            func client(_ serverName: String?) throws -> KubeClient {
                try KubeClient(config: ClusterConfig(server: sim.baseURL, tls: TLSSettings(certificateAuthorityPEM: ca, serverName: serverName)), logger: quietLogger, connectTimeout: .milliseconds(500))
            }
            let good = try client("kubernetes.default.svc")
            #expect(try await good.list(Service.self).items == sim.objects(Service.self))
            try await good.shutdown()
            for name in [nil, "other.example"] {
                let bad = try client(name)
                await #expect { _ = try await bad.list(Service.self) } throws: { e in
                    if case .transport = e as? KubeAPIError { return true }
                    return false
                }
                try await bad.shutdown()
            }
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct ClientCertificates {
    @Test func kubeconfigClientCertificateAuthenticatesOverMutualTLS() async throws {
        let dir = try temporaryDirectory("mtls")
        defer { try? FileManager.default.removeItem(at: dir) }
        try await withSimulator(SimulatorOptions(tokens: ["unused": "nobody"], permissions: ["system:node:n1": Permission.read("services")])) { sim in
            try sim.create(service("a", "b"))
            let (cert, key) = try sim.issueClientCertificate(user: "system:node:n1")
            try cert.write(to: dir.appendingPathComponent("client.crt"), atomically: true, encoding: .utf8)
            try key.write(to: dir.appendingPathComponent("client.key"), atomically: true, encoding: .utf8)
            try (sim.certificateAuthorityPEM ?? "").write(to: dir.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
            let yaml = """
            clusters: [{name: sim, cluster: {server: "\(sim.baseURL)", certificate-authority: ca.crt}}]
            users: [{name: node, user: {client-certificate: client.crt, client-key: client.key}}]
            contexts: [{name: sim, context: {cluster: sim, user: node}}]
            current-context: sim
            """
            let path = dir.appendingPathComponent("kubeconfig").path
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            let client = try KubeClient(config: ClusterConfig.load(kubeconfig: path, logger: quietLogger), logger: quietLogger)
            #expect(try await client.list(Service.self).items == sim.objects(Service.self))
            #expect(sim.requests.map(\.user) == ["system:node:n1"])
            try await client.shutdown()
        }
    }
}
