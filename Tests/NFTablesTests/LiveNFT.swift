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
        try inNamespace { nft in
            for text in texts { _ = try nft(["-f"], text) }
            return try nft(["list", "ruleset"], nil)
        }
    }

    /// What `nft --debug=netlink -f` prints while loading `text` into a fresh namespace.
    static func netlinkDebug(_ text: String) throws -> String {
        try inNamespace { nft in try nft(["--debug=netlink", "-f"], text) }
    }

    /// Runs `body` with a function that runs nft in a new namespace (with the text, if any, as
    /// the file argument), and deletes the namespace afterwards.
    private static func inNamespace(_ body: (_ nft: ([String], String?) throws -> String) throws -> String) throws -> String {
        let ns = "nftables-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        _ = try run("/usr/sbin/ip", ["netns", "add", ns])
        defer { _ = try? run("/usr/sbin/ip", ["netns", "delete", ns]) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(ns).nft")
        defer { try? FileManager.default.removeItem(at: file) }
        return try body { args, text in
            var full = ["netns", "exec", ns, "/usr/sbin/nft"] + args
            if let text {
                try text.write(to: file, atomically: true, encoding: .utf8)
                full.append(file.path)
            }
            return try run("/usr/sbin/ip", full)
        }
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
