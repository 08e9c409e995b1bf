import Agent
import Foundation
import Testing
import Yams

/// The repository's Deploy/agent folder.
let deployDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Deploy/agent")

func deployObjects() throws -> [[String: Any]] {
    let files = try FileManager.default.contentsOfDirectory(atPath: deployDirectory.path).filter { $0.hasSuffix(".yaml") }.sorted()
    return try files.flatMap { file in
        try Yams.load_all(yaml: String(contentsOf: deployDirectory.appendingPathComponent(file), encoding: .utf8))
            .compactMap { $0 as? [String: Any] }
    }
}

func object(_ objects: [[String: Any]], kind: String) -> [String: Any]? {
    objects.first { $0["kind"] as? String == kind }
}

func path(_ value: Any?, _ keys: String...) -> Any? {
    keys.reduce(value) { v, k in
        if let i = Int(k) { return (v as? [Any]).flatMap { i < $0.count ? $0[i] : nil } }
        return (v as? [String: Any])?[k]
    }
}

@Suite("Deploy/agent: the objects operators apply")
struct DeployTests {
    @Test("every file parses as Kubernetes objects, and the kustomization lists them all")
    func parses() throws {
        let objects = try deployObjects()
        for o in objects {
            #expect(o["apiVersion"] is String && o["kind"] is String, "\(o)")
        }
        let kinds = Set(objects.compactMap { $0["kind"] as? String })
        #expect(kinds == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet", "Kustomization"])
        let listed = try #require(object(objects, kind: "Kustomization")?["resources"] as? [String])
        let files = try FileManager.default.contentsOfDirectory(atPath: deployDirectory.path)
            .filter { $0.hasSuffix(".yaml") && $0 != "kustomization.yaml" }
        #expect(Set(listed) == Set(files))
    }

    @Test("the ClusterRole grants exactly the resources and verbs the agent requests")
    func clusterRoleMatchesTheCode() throws {
        let role = try #require(object(try deployObjects(), kind: "ClusterRole"))
        let rules = try #require(role["rules"] as? [[String: Any]])
        var granted: [String: Set<String>] = [:]
        for r in rules {
            for group in r["apiGroups"] as? [String] ?? [] {
                for resource in r["resources"] as? [String] ?? [] {
                    granted["\(group)/\(resource)", default: []].formUnion(r["verbs"] as? [String] ?? [])
                }
            }
        }
        var requested: [String: Set<String>] = [:]
        for p in APISource.permissions { requested["\(p.group)/\(p.resource)", default: []].formUnion(p.verbs) }
        #expect(granted == requested)
    }

    @Test("the DaemonSet: host network, node-critical, NET_ADMIN only, probes on healthz and livez, the node's name")
    func daemonSet() throws {
        let ds = try #require(object(try deployObjects(), kind: "DaemonSet"))
        let pod = path(ds, "spec", "template", "spec")
        #expect(path(pod, "hostNetwork") as? Bool == true)
        #expect(path(pod, "priorityClassName") as? String == "system-node-critical")
        #expect(path(pod, "serviceAccountName") as? String == "sluice")
        let container = path(pod, "containers", "0")
        #expect(path(container, "securityContext", "capabilities", "add") as? [String] == ["NET_ADMIN"])
        #expect(path(container, "securityContext", "capabilities", "drop") as? [String] == ["ALL"])
        #expect(path(container, "livenessProbe", "httpGet", "path") as? String == "/livez")
        #expect(path(container, "readinessProbe", "httpGet", "path") as? String == "/healthz")
        #expect(path(container, "livenessProbe", "httpGet", "port") as? Int == 10256)
        #expect((path(container, "args") as? [String] ?? []).contains("--hostname-override=$(NODE_NAME)"))
        #expect(path(ds, "spec", "updateStrategy", "type") as? String == "RollingUpdate")
    }
}
