import Dispatch
import Foundation
import KubeModels
import Logging

/// Where a bearer token (or client certificate) comes from.
public enum CredentialSource: Sendable, CustomStringConvertible {
    case none
    case token(String)
    /// Re-read at least every `Credentials.tokenFileMaxAge` and after a 401: bound
    /// service-account tokens rotate.
    case tokenFile(String)
    case exec(ExecConfig)

    public var description: String {
        switch self {
        case .none: "none"
        case .token: "token(redacted)"
        case .tokenFile(let path): "tokenFile(\(path))"
        case .exec(let e): "exec(\(e.command))"
        }
    }
}

/// An exec credential plugin (client.authentication.k8s.io/v1).
public struct ExecConfig: Sendable, Hashable {
    public var apiVersion: String
    public var command: String
    public var args: [String]
    public var env: [String: String]
    public var clusterServer: String?
    public init(apiVersion: String = "client.authentication.k8s.io/v1", command: String, args: [String] = [], env: [String: String] = [:], clusterServer: String? = nil) {
        self.apiVersion = apiVersion
        self.command = command
        self.args = args
        self.env = env
        self.clusterServer = clusterServer
    }
}

/// Supplies the current bearer token, caching it and refreshing it as the source requires.
public actor Credentials {
    public nonisolated let source: CredentialSource
    /// Token files are re-read when older than this (client-go uses one minute).
    public let tokenFileMaxAge: Duration
    private let clock = ContinuousClock()
    private var cached: String?
    private var cachedAt: ContinuousClock.Instant?
    private var expiry: Date?

    public init(_ source: CredentialSource, tokenFileMaxAge: Duration = .seconds(60)) {
        self.source = source
        self.tokenFileMaxAge = tokenFileMaxAge
    }

    /// The token to send now, or nil for none.
    public func token() async throws -> String? {
        switch source {
        case .none:
            return nil
        case .token(let t):
            return t
        case .tokenFile(let path):
            if let cached, let cachedAt, clock.now - cachedAt < tokenFileMaxAge { return cached }
            let t = try Self.readToken(path)
            cached = t
            cachedAt = clock.now
            return t
        case .exec(let config):
            if let cached, expiry.map({ $0.timeIntervalSinceNow > 10 }) ?? true { return cached }
            let (t, exp) = try await ExecPlugin.run(config)
            cached = t
            expiry = exp
            return t
        }
    }

    /// Forgets the cached token (after a 401), so the next request re-reads it.
    public func invalidate() {
        switch source {
        case .none, .token: break
        case .tokenFile, .exec:
            cached = nil
            cachedAt = nil
            expiry = nil
        }
    }

    static func readToken(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("cannot read token file \(path)")
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Collects a pipe's bytes from another thread.
private final class ErrorBox: @unchecked Sendable {
    // Written once by the reader thread, read after it finished.
    var data: Data?
}

/// Runs an exec credential plugin and reads the ExecCredential it prints.
enum ExecPlugin {
    struct ExecCredential: Codable {
        struct Status: Codable {
            var token: String?
            var expirationTimestamp: String?
            var clientCertificateData: String?
            var clientKeyData: String?
        }
        var apiVersion: String?
        var kind: String?
        var status: Status?
    }

    static func run(_ config: ExecConfig, timeout: Duration = .seconds(30)) async throws -> (token: String, expiry: Date?) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: config.command.hasPrefix("/") ? config.command : "/usr/bin/env")
        process.arguments = config.command.hasPrefix("/") ? config.args : [config.command] + config.args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in config.env { env[k] = v }
        let request = #"{"apiVersion":"\#(config.apiVersion)","kind":"ExecCredential","spec":{"interactive":false}}"#
        env["KUBERNETES_EXEC_INFO"] = request
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw ConfigError("exec credential plugin \(config.command) could not start: \(error)")
        }
        // The plugin may hang (a login prompt, a dead network): kill it after `timeout`.
        let killer = Task.detached {
            try await Task.sleep(for: timeout)
            if process.isRunning { process.terminate() }
        }
        defer { killer.cancel() }
        // Read on a thread of its own: these reads block, and must not hold a cooperative thread.
        let (data, errors) = await withCheckedContinuation { (c: CheckedContinuation<(Data, Data), Never>) in
            Thread.detachNewThread {
                let errors = ErrorBox()
                let group = DispatchGroup()
                group.enter()
                DispatchQueue.global().async {
                    errors.data = err.fileHandleForReading.readDataToEndOfFile()
                    group.leave()
                }
                let data = out.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                group.wait()
                c.resume(returning: (data, errors.data ?? Data()))
            }
        }
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw ConfigError("exec credential plugin \(config.command) exited with status \(process.terminationStatus): \(message)")
        }
        let cred: ExecCredential
        do {
            cred = try JSONDecoder().decode(ExecCredential.self, from: data)
        } catch {
            throw ConfigError("exec credential plugin \(config.command) printed no valid ExecCredential: \(error)")
        }
        guard cred.apiVersion == config.apiVersion else {
            throw ConfigError("exec credential plugin \(config.command) answered apiVersion \(cred.apiVersion ?? "none"), expected \(config.apiVersion)")
        }
        guard let token = cred.status?.token, !token.isEmpty else {
            throw ConfigError("exec credential plugin \(config.command) returned no status.token")
        }
        let expiry = cred.status?.expirationTimestamp.flatMap { try? Date($0, strategy: .iso8601) }
        return (token, expiry)
    }
}
