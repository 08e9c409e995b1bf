/// Labels kube-proxy's informers select on (cmd/kube-proxy: `!service-proxy-name,!headless`).
public enum ProxyLabel {
    public static let serviceProxyName = "service.kubernetes.io/service-proxy-name"
    public static let headless = "service.kubernetes.io/headless"
    public static let serviceName = "kubernetes.io/service-name"
}
