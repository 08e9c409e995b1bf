import ArgumentParser
import Foundation
import KubeModels
import ManifestSource
import ProxyCore

/// Exit statuses, the same for every command (`diff` as `kubectl diff`: 1 means changes).
enum ExitStatus {
    static let ok: Int32 = 0
    /// Something failed at run time: the kernel refused, no permission, the API server refused.
    static let failure: Int32 = 1
    /// The input cannot be used (a file that is not YAML or JSON, a bad config value), or
    /// the command line is wrong.
    static let badInput: Int32 = 2

    static let help = "Exit status: 0 done; 1 a run-time failure (the kernel refused, no permission); 2 bad input or usage."
}

/// A command's failure: each line is printed as `error: …`, then the process exits with `status`.
struct CommandFailure: Error, CustomStringConvertible {
    var lines: [String]
    var status: Int32
    var description: String { lines.joined(separator: "\n") }

    static func badInput(_ lines: [String]) -> CommandFailure { CommandFailure(lines: lines, status: ExitStatus.badInput) }
    static func failure(_ error: any Error) -> CommandFailure { CommandFailure(lines: ["\(error)"], status: ExitStatus.failure) }
}

/// One line on standard error, made safe to print (no control bytes, no megabyte lines).
func printLine(_ prefix: String, _ text: String) {
    FileHandle.standardError.write(Data("\(prefix): \(Excerpt.line(text, limit: 2000))\n".utf8))
}

func warn(_ text: String) { printLine("warning", text) }

/// Runs a command's body with the one rule for failures: `ExitCode` as it is; a
/// `CommandFailure` and any other error printed as `error:` lines, then the process exits with
/// the failure's status (`status`, when given, for every failure: `diff` exits 2).
func guarded(status: Int32? = nil, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch let e as CommandFailure {
        for line in e.lines { printLine("error", line) }
        throw ExitCode(status ?? e.status)
    } catch {
        printLine("error", "\(error)")
        throw ExitCode(status ?? ExitStatus.failure)
    }
}

/// `guarded` for async bodies.
func guarded(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let e as ExitCode {
        throw e
    } catch let e as CommandFailure {
        for line in e.lines { printLine("error", line) }
        throw ExitCode(e.status)
    } catch {
        printLine("error", "\(error)")
        throw ExitCode(ExitStatus.failure)
    }
}

/// The manifests at `paths`, their notes and skipped objects reported; a file that cannot be
/// read at all is bad input.
func loadManifests(_ paths: [String]) throws -> Manifests {
    let manifests: Manifests
    do {
        manifests = try ManifestLoader.load(paths: paths)
    } catch {
        throw CommandFailure.badInput(error.errors.map(\.description))
    }
    for note in manifests.notes { printLine("note", note.description) }
    for e in manifests.skipped { warn("\(e); object skipped") }
    return manifests
}

/// ProxyCore's diagnostics, each located in the manifests when it came from them.
func report(_ diagnostics: [Diagnostic], in manifests: Manifests) {
    for d in diagnostics {
        let at = manifests.location(of: d.kind, d.object).map { "\($0): " } ?? ""
        warn("\(at)\(d)")
    }
}
