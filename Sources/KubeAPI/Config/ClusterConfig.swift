import Foundation
import KubeModels

/// Where the API server is, how to trust it and how to authenticate: what the in-cluster
/// and kubeconfig loaders produce. Its description never shows a credential.
public struct ClusterConfig: Sendable, CustomStringConvertible {
    /// "https://host:port", without a trailing slash.
    public var server: String
    public var tls: TLSSettings
    public var credentials: Credentials
    /// Namespace of the kubeconfig context (informational).
    public var namespace: String?

    public init(server: String, tls: TLSSettings = TLSSettings(), credentials: Credentials = Credentials(.none), namespace: String? = nil) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.tls = tls
        self.credentials = credentials
        self.namespace = namespace
    }

    public var description: String {
        "ClusterConfig(server: \(server), tls: \(tls), credentials: \(credentials.source))"
    }
}

public struct TLSSettings: Sendable, CustomStringConvertible {
    /// PEM bundle of the CAs to trust; nil means the system roots.
    public var certificateAuthorityPEM: [UInt8]?
    /// Skips verification entirely. Loud warning at start-up; never the default.
    public var insecureSkipVerify: Bool
    /// Name to verify in the server's certificate instead of the URL's host.
    public var serverName: String?
    public var clientCertificatePEM: [UInt8]?
    public var clientKeyPEM: [UInt8]?

    public init(
        certificateAuthorityPEM: [UInt8]? = nil,
        insecureSkipVerify: Bool = false,
        serverName: String? = nil,
        clientCertificatePEM: [UInt8]? = nil,
        clientKeyPEM: [UInt8]? = nil
    ) {
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.insecureSkipVerify = insecureSkipVerify
        self.serverName = serverName
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
    }

    public var description: String {
        var parts: [String] = []
        parts.append(certificateAuthorityPEM == nil ? "ca: system" : "ca: custom")
        if insecureSkipVerify { parts.append("INSECURE-SKIP-VERIFY") }
        if let serverName { parts.append("serverName: \(serverName)") }
        if clientCertificatePEM != nil { parts.append("client certificate") }
        return parts.joined(separator: ", ")
    }
}

/// A configuration problem, naming the file and the entry at fault.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
