import Foundation
import IPVS
import NetworkTypes

/// These tests need a kernel with IPVS: Tests/vm/run.sh boots one (`make test-vm`) with ip_vs
/// loaded. On a kernel without it (this project's machines) they are skipped.
enum IPVSKernel {
    static let available = FileManager.default.fileExists(atPath: "/proc/net/ip_vs")
}

func ip(_ s: String) -> IPAddress {
    guard let a = IPAddress(s) else { fatalError("bad test address \(s)") }
    return a
}

func tcp(_ address: String, _ port: UInt16) -> VirtualServiceKey {
    VirtualServiceKey(protocol: 6, address: ip(address), port: port)
}

func udp(_ address: String, _ port: UInt16) -> VirtualServiceKey {
    VirtualServiceKey(protocol: 17, address: ip(address), port: port)
}
