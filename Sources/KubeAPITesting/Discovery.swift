import KubeAPI
import KubeModels
import NIOCore

/// The discovery documents clients such as kubectl read before anything else.
extension KubeAPISimulator {
    func discovery(_ path: String) -> ByteBuffer? {
        let p = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        switch p {
        case "/version":
            return json(#"{"major":"1","minor":"32","gitVersion":"v1.32.0-sluice-sim","gitCommit":"0000000000000000000000000000000000000000","gitTreeState":"clean","buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.23","compiler":"gc","platform":"linux/amd64"}"#)
        case "/api":
            return json(#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1:\#(port)"}]}"#)
        case "/apis":
            let groups = groupNames.map { g in
                #"{"name":"\#(g)","versions":[{"groupVersion":"\#(g)/v1","version":"v1"}],"preferredVersion":{"groupVersion":"\#(g)/v1","version":"v1"}}"#
            }
            return json(#"{"kind":"APIGroupList","apiVersion":"v1","groups":[\#(groups.joined(separator: ","))]}"#)
        case "/api/v1":
            return resourceList(groupVersion: "v1", group: "")
        default:
            for g in groupNames {
                if p == "/apis/\(g)" {
                    return json(#"{"kind":"APIGroup","apiVersion":"v1","name":"\#(g)","versions":[{"groupVersion":"\#(g)/v1","version":"v1"}],"preferredVersion":{"groupVersion":"\#(g)/v1","version":"v1"}}"#)
                }
                if p == "/apis/\(g)/v1" { return resourceList(groupVersion: "\(g)/v1", group: g) }
            }
            return nil
        }
    }

    private var groupNames: [String] {
        Array(Set(Self.resources.map(\.group).filter { !$0.isEmpty })).sorted()
    }

    private func resourceList(groupVersion: String, group: String) -> ByteBuffer {
        let shortNames = ["services": #","shortNames":["svc"]"#, "nodes": #","shortNames":["no"]"#]
        let items = Self.resources.filter { $0.group == group }.map { d in
            let singular = d.kind.lowercased()
            return #"{"name":"\#(d.plural)","singularName":"\#(singular)","namespaced":\#(d.namespaced),"kind":"\#(d.kind)","verbs":["get","list","watch"]\#(shortNames[d.plural] ?? "")}"#
        }
        let extra = group.isEmpty ? [#"{"name":"namespaces","singularName":"namespace","namespaced":false,"kind":"Namespace","verbs":["get","list"],"shortNames":["ns"]}"#] : []
        return json(#"{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"\#(groupVersion)","resources":[\#((items + extra).joined(separator: ","))]}"#)
    }

    private func json(_ s: String) -> ByteBuffer { ByteBuffer(string: s) }
}
