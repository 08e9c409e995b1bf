import Foundation
import KubeModels

// Kubernetes objects of a cluster at scale: Service i (a ClusterIP in 10.96.0.0/12, port 80) and
// its EndpointSlice with two ready endpoints (in 10.244.0.0/16, neighbouring Services sharing
// one; on nodes node-0 … node-99), as the API server serves them. Shared by kubeapi-bench (decoding) and sluice-bench apply.

public func makeService(_ i: Int) -> Service {
    Service(
        metadata: ObjectMeta(name: "svc-\(i)", namespace: "ns-\(i % 50)", labels: ["app": "app-\(i)"]),
        spec: ServiceSpec(
            type: "ClusterIP", clusterIP: "10.\(96 + i / 65536).\(i / 256 % 256).\(i % 256)", clusterIPs: ["10.\(96 + i / 65536).\(i / 256 % 256).\(i % 256)"],
            ports: [ServicePort(name: "http", protocol: .tcp, port: 80, targetPort: .int(8080))],
            selector: ["app": "app-\(i)"], sessionAffinity: "None", internalTrafficPolicy: "Cluster",
            ipFamilies: ["IPv4"], ipFamilyPolicy: "SingleStack"
        )
    )
}

public func makeSlice(_ i: Int, generation: Int = 0) -> EndpointSlice {
    EndpointSlice(
        metadata: ObjectMeta(name: "svc-\(i)-abcde", namespace: "ns-\(i % 50)", labels: [
            "kubernetes.io/service-name": "svc-\(i)", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        ]),
        addressType: "IPv4",
        endpoints: (0..<2).map { e in
            Endpoint(
                addresses: ["10.244.\(i / 250 % 250).\((i % 250) + e + generation % 3)"],
                conditions: EndpointConditions(ready: true, serving: true, terminating: false),
                nodeName: "node-\((i * 2 + e) % 100)", zone: "zone-\(e)",
                targetRef: ObjectReference(kind: "Pod", namespace: "ns-\(i % 50)", name: "pod-\(i)-\(e)", uid: "00000000-0000-0000-0000-\(String(format: "%012d", i * 2 + e))")
            )
        },
        ports: [EndpointPort(name: "http", protocol: .tcp, port: 8080)]
    )
}

