import Foundation
import KubeModels
import Logging
import Yams

/// A kubeconfig file (clientcmd v1), reduced to what a client needs.
public struct Kubeconfig: Codable, Sendable {
    public struct NamedCluster: Codable, Sendable {
        public var name: String
        public var cluster: Cluster
    }
    public struct Cluster: Codable, Sendable {
        public var server: String
        public var certificateAuthority: String?
        public var certificateAuthorityData: String?
        public var insecureSkipTLSVerify: Bool?
        public var tlsServerName: String?
        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
            case tlsServerName = "tls-server-name"
        }
    }
    public struct NamedUser: Codable, Sendable {
        public var name: String
        public var user: User
    }
    public struct User: Codable, Sendable {
        public var token: String?
        public var tokenFile: String?
        public var clientCertificate: String?
        public var clientCertificateData: String?
        public var clientKey: String?
        public var clientKeyData: String?
        public var exec: Exec?
        enum CodingKeys: String, CodingKey {
            case token, tokenFile, exec
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
        }
    }
    public struct Exec: Codable, Sendable {
        public struct EnvVar: Codable, Sendable {
            public var name: String
            public var value: String
        }
        public var apiVersion: String
        public var command: String
        public var args: [String]?
        public var env: [EnvVar]?
    }
    public struct NamedContext: Codable, Sendable {
        public var name: String
        public var context: Context
    }
    public struct Context: Codable, Sendable {
        public var cluster: String
        public var user: String?
        public var namespace: String?
    }

    public var clusters: [NamedCluster]?
    public var users: [NamedUser]?
    public var contexts: [NamedContext]?
    public var currentContext: String?
    /// Folder of the file each entry came from: relative paths resolve against it.
    var origin: [String: String] = [:]

    enum CodingKeys: String, CodingKey {
        case clusters, users, contexts
        case currentContext = "current-context"
    }

    public init(yaml: String, path: String) throws {
        do {
            self = try YAMLDecoder().decode(Kubeconfig.self, from: yaml)
        } catch {
            throw ConfigError("kubeconfig \(path): \(error)")
        }
        let dir = (path as NSString).deletingLastPathComponent
        for c in clusters ?? [] { origin["cluster/\(c.name)"] = dir }
        for u in users ?? [] { origin["user/\(u.name)"] = dir }
    }

    /// Reads one file, or several merged as kubectl does for `$KUBECONFIG`
    /// (the first file that names an entry, or sets current-context, wins).
    public static func load(paths: [String]) throws -> Kubeconfig {
        var merged: Kubeconfig?
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                if paths.count == 1 { throw ConfigError("cannot read kubeconfig \(path)") }
                continue
            }
            let next = try Kubeconfig(yaml: String(decoding: data, as: UTF8.self), path: path)
            guard var m = merged else {
                merged = next
                continue
            }
            if m.currentContext?.isEmpty ?? true { m.currentContext = next.currentContext }
            for c in next.clusters ?? [] where !(m.clusters ?? []).contains(where: { $0.name == c.name }) {
                m.clusters = (m.clusters ?? []) + [c]
                m.origin["cluster/\(c.name)"] = next.origin["cluster/\(c.name)"]
            }
            for u in next.users ?? [] where !(m.users ?? []).contains(where: { $0.name == u.name }) {
                m.users = (m.users ?? []) + [u]
                m.origin["user/\(u.name)"] = next.origin["user/\(u.name)"]
            }
            for c in next.contexts ?? [] where !(m.contexts ?? []).contains(where: { $0.name == c.name }) {
                m.contexts = (m.contexts ?? []) + [c]
            }
            merged = m
        }
        guard let merged else { throw ConfigError("none of the kubeconfig files exist: \(paths.joined(separator: ":"))") }
        return merged
    }

    /// The ClusterConfig of `context` (default: current-context).
    public func clusterConfig(context name: String? = nil, logger: Logger) throws -> ClusterConfig {
        guard let ctxName = name ?? currentContext, !ctxName.isEmpty else {
            throw ConfigError("kubeconfig has no current-context; pass a context name")
        }
        guard let ctx = contexts?.first(where: { $0.name == ctxName })?.context else {
            throw ConfigError("kubeconfig has no context named \(ctxName)")
        }
        guard let cluster = clusters?.first(where: { $0.name == ctx.cluster })?.cluster else {
            throw ConfigError("kubeconfig context \(ctxName) names cluster \(ctx.cluster), which is not defined")
        }
        let user: User?
        if let userName = ctx.user, !userName.isEmpty {
            guard let u = users?.first(where: { $0.name == userName })?.user else {
                throw ConfigError("kubeconfig context \(ctxName) names user \(userName), which is not defined")
            }
            user = u
        } else {
            user = nil
        }
        let clusterDir = origin["cluster/\(ctx.cluster)"] ?? "."
        let userDir = ctx.user.flatMap { origin["user/\($0)"] } ?? "."

        var tls = TLSSettings()
        tls.certificateAuthorityPEM = try Self.bytes(data: cluster.certificateAuthorityData, file: cluster.certificateAuthority, dir: clusterDir, what: "cluster \(ctx.cluster) certificate-authority")
        tls.insecureSkipVerify = cluster.insecureSkipTLSVerify ?? false
        tls.serverName = cluster.tlsServerName
        if tls.insecureSkipVerify {
            logger.warning("TLS VERIFICATION IS DISABLED for the Kubernetes API (insecure-skip-tls-verify in kubeconfig): anyone on the path can impersonate the API server", metadata: ["kube.server": "\(cluster.server)"])
        }

        var source = CredentialSource.none
        if let user {
            tls.clientCertificatePEM = try Self.bytes(data: user.clientCertificateData, file: user.clientCertificate, dir: userDir, what: "user client-certificate")
            tls.clientKeyPEM = try Self.bytes(data: user.clientKeyData, file: user.clientKey, dir: userDir, what: "user client-key")
            if let token = user.token, !token.isEmpty {
                source = .token(token)
            } else if let file = user.tokenFile, !file.isEmpty {
                source = .tokenFile(Self.resolve(file, dir: userDir))
            } else if let exec = user.exec {
                guard exec.apiVersion == "client.authentication.k8s.io/v1" || exec.apiVersion == "client.authentication.k8s.io/v1beta1" else {
                    throw ConfigError("kubeconfig exec plugin \(exec.command): unsupported apiVersion \(exec.apiVersion)")
                }
                let command = exec.command.contains("/") ? Self.resolve(exec.command, dir: userDir) : exec.command
                source = .exec(ExecConfig(
                    apiVersion: exec.apiVersion,
                    command: command,
                    args: exec.args ?? [],
                    env: Dictionary((exec.env ?? []).map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b }),
                    clusterServer: cluster.server
                ))
            }
        }
        return ClusterConfig(server: cluster.server, tls: tls, credentials: Credentials(source), namespace: ctx.namespace)
    }

    static func resolve(_ path: String, dir: String) -> String {
        path.hasPrefix("/") ? path : (dir as NSString).appendingPathComponent(path)
    }

    static func bytes(data: String?, file: String?, dir: String, what: String) throws -> [UInt8]? {
        if let data, !data.isEmpty {
            guard let d = Data(base64Encoded: data, options: .ignoreUnknownCharacters) else {
                throw ConfigError("kubeconfig \(what)-data is not valid base64")
            }
            return Array(d)
        }
        if let file, !file.isEmpty {
            let path = resolve(file, dir: dir)
            guard let d = FileManager.default.contents(atPath: path) else {
                throw ConfigError("kubeconfig \(what): cannot read \(path)")
            }
            return Array(d)
        }
        return nil
    }
}

extension ClusterConfig {
    /// The in-cluster configuration of a pod: `KUBERNETES_SERVICE_HOST`/`_PORT`, the
    /// service-account token (re-read as it rotates) and `ca.crt`.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        serviceAccountDirectory: String = "/var/run/secrets/kubernetes.io/serviceaccount",
        tokenFileMaxAge: Duration = .seconds(60)
    ) throws -> ClusterConfig {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw ConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
        }
        let tokenPath = serviceAccountDirectory + "/token"
        _ = try Credentials.readToken(tokenPath)
        let caPath = serviceAccountDirectory + "/ca.crt"
        guard let ca = FileManager.default.contents(atPath: caPath) else {
            throw ConfigError("in-cluster configuration: cannot read \(caPath)")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return ClusterConfig(
            server: "https://\(hostPart):\(port)",
            tls: TLSSettings(certificateAuthorityPEM: Array(ca)),
            credentials: Credentials(.tokenFile(tokenPath), tokenFileMaxAge: tokenFileMaxAge)
        )
    }

    /// kube-proxy's order: an explicit `--kubeconfig`, else `$KUBECONFIG`, else in-cluster,
    /// else `~/.kube/config`.
    public static func load(
        kubeconfig: String? = nil,
        context: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger
    ) throws -> ClusterConfig {
        if let kubeconfig, !kubeconfig.isEmpty {
            return try Kubeconfig.load(paths: [kubeconfig]).clusterConfig(context: context, logger: logger)
        }
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            let paths = list.split(separator: ":").map(String.init).filter { !$0.isEmpty }
            return try Kubeconfig.load(paths: paths).clusterConfig(context: context, logger: logger)
        }
        if environment["KUBERNETES_SERVICE_HOST"] != nil {
            return try inCluster(environment: environment)
        }
        if let home = environment["HOME"] {
            let path = home + "/.kube/config"
            if FileManager.default.fileExists(atPath: path) {
                return try Kubeconfig.load(paths: [path]).clusterConfig(context: context, logger: logger)
            }
        }
        throw ConfigError("no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, or run in a pod")
    }
}
