import Foundation

/// Runs the real `nft` in a throwaway network namespace, so tests can compare our rendering
/// with what nft lists. Needs root and nft; tests skip when either is missing. Never touches
/// the machine's own namespace.
enum LiveNFT {
    static var isAvailable: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft")
            && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Loads `text` with `nft -f` into a fresh namespace and returns `nft list ruleset`.
    static func load(_ text: String) throws -> String {
        try load([text])
    }

    /// Loads each script in turn (each one batch) into one fresh namespace.
    static func load(_ texts: [String]) throws -> String {
        let ns = "nftables-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        _ = try run("/usr/sbin/ip", ["netns", "add", ns])
        defer { _ = try? run("/usr/sbin/ip", ["netns", "delete", ns]) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(ns).nft")
        defer { try? FileManager.default.removeItem(at: file) }
        for text in texts {
            try text.write(to: file, atomically: true, encoding: .utf8)
            _ = try run("/usr/sbin/ip", ["netns", "exec", ns, "/usr/sbin/nft", "-f", file.path])
        }
        return try run("/usr/sbin/ip", ["netns", "exec", ns, "/usr/sbin/nft", "list", "ruleset"])
    }

    private static func run(_ tool: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Failure(description: "\(tool) \(args.joined(separator: " ")): \(String(decoding: errData, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
