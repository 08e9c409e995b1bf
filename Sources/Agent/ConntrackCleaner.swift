import Foundation
import Proxier

/// Deletes stale conntrack entries in the caller's network namespace.
public protocol ConntrackCleaning: Sendable {
    /// Deletes the entries of each flow; returns those that could not be deleted, with why.
    func clean(_ flows: [ConntrackFlow]) -> [(ConntrackFlow, String)]
}

/// Deletes conntrack entries with conntrack-tools, one `conntrack -D` per flow.
public struct ConntrackTool: ConntrackCleaning {
    public var path: String

    public init(path: String = "/usr/sbin/conntrack") { self.path = path }

    /// "0 flow entries have been deleted" is not a failure.
    public func clean(_ flows: [ConntrackFlow]) -> [(ConntrackFlow, String)] {
        var failed: [(ConntrackFlow, String)] = []
        for flow in flows {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: path)
            p.arguments = flow.arguments
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            do {
                try p.run()
                let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                p.waitUntilExit()
                // conntrack exits 1 when nothing matched; only a message without "entries" is an error.
                if p.terminationStatus != 0 && !message.contains("flow entries have been deleted") {
                    failed.append((flow, message))
                }
            } catch {
                failed.append((flow, "\(error)"))
            }
        }
        return failed
    }
}
