import Foundation
import SluiceTestSupport
import Testing

/// `sluice agent` as a process in the node's namespace, its log in a file.
final class AgentProcess {
    let process = Process()
    let log: URL

    init(in ns: NetworkNamespace, _ arguments: [String]) throws {
        log = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-agent-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", ns.name, sluice, "agent"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// SIGTERM, then the exit status.
    func terminate() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { process.interrupt() }
    }
}

@Suite("sluice agent --manifests: follows files live, on packets", .serialized)
struct AgentManifestTests {
    @Test("an edit carries traffic within a second; a flushed table is repaired; a broken edit keeps the last good rules; SIGTERM leaves them; a restart sends nothing")
    func followsManifests() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        let dir = try manifestDir()
        let agent = try AgentProcess(in: rig.node, ["--manifests", dir, "--log-level", "debug", "--sync-period", "1s"] + nodeFlags)
        let landed = { () throws -> Set<String> in
            Set(try rig.connect(from: rig.client, to: "10.96.0.10", port: 80, count: 20).map { String($0.prefix { $0 != " " }) })
        }
        #expect(try waitFor(10) { try landed() == ["10.1.0.2:8080", "10.1.0.3:8080"] } != nil, "\(agent.output)")

        // Endpoint 10.1.0.2 is replaced by 10.1.0.4 in the file.
        try webYAML.replacingOccurrences(of: "ENDPOINT_A", with: "10.1.0.4")
            .write(toFile: dir + "/web.yaml", atomically: true, encoding: .utf8)
        let programmed = try waitFor(3) {
            try rig.node.exec(["nft", "list", "map", "ip", "sluice", "backends"]).stdout.contains("10.1.0.4 . 8080")
        }
        #expect((programmed ?? 99) < 1.0, "the new endpoint is in the kernel within a second (took \(programmed ?? -1) s)")
        #expect(try landed() == ["10.1.0.4:8080", "10.1.0.3:8080"])

        // Someone flushes the table: the periodic check (every second here) puts it back.
        try rig.node.exec(["nft", "flush", "table", "ip", "sluice"])
        #expect(try waitFor(5) { try landed() == ["10.1.0.4:8080", "10.1.0.3:8080"] } != nil, "repaired")
        #expect(agent.output.contains("repaired drift in the kernel"))

        // A broken edit: reported with its file, and the last good rules keep serving.
        try "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec: {ports: [{port: 70000x}]}\n"
            .write(toFile: dir + "/broken.yaml", atomically: true, encoding: .utf8)
        #expect(waitFor(3) { agent.output.contains("object skipped, its last good version kept: \(dir)/broken.yaml, document 1 (Service default/web)") } != nil,
                "\(agent.output)")
        #expect(try landed() == ["10.1.0.4:8080", "10.1.0.3:8080"])
        try FileManager.default.removeItem(atPath: dir + "/broken.yaml")

        // SIGTERM: exit 0, and the rules stay while the agent is away.
        #expect(agent.terminate() == 0)
        #expect(try landed() == ["10.1.0.4:8080", "10.1.0.3:8080"])

        // A restart with the same state sends nothing to the kernel.
        let again = try AgentProcess(in: rig.node, ["--manifests", dir] + nodeFlags)
        #expect(waitFor(10) { again.output.contains("synced") } != nil, "\(again.output)")
        #expect(again.output.contains("sync.commands=0 sync.kind=full"), "\(again.output)")
        #expect(again.terminate() == 0)
    }
}
