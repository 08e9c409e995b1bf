import CNetfilter
import Glibc
import NFTables
import NetworkTypes

/// Interfaces and their addresses through rtnetlink, in the network namespace of the thread
/// that opens it: what the IPVS backend needs to hold virtual addresses on a dummy interface
/// (IPVS only sees packets addressed to the node itself).
public final class LinkConnection {
    private let channel: NetlinkChannel
    /// IFF_UP (glibc's and the kernel's headers both define it; this module sees both).
    private static let up: UInt32 = 0x1

    public init() throws(NetfilterError) {
        channel = try NetlinkChannel(protocol: NETLINK_ROUTE, name: "NETLINK_ROUTE")
    }

    /// The interface's index, or nil when there is none by that name.
    public func index(of name: String) throws(NetfilterError) -> Int32? {
        var found: Int32?
        do {
            try channel.request(what: "interface \(name)", build: { nlh in
                nlh.pointee.nlmsg_type = UInt16(RTM_GETLINK)
                _ = Self.putLinkHeader(nlh)
                mnl_attr_put_strz(nlh, UInt16(IFLA_IFNAME), name)
            }) { m in
                if let raw = mnl_nlmsg_get_payload(m) {
                    found = raw.assumingMemoryBound(to: ifinfomsg.self).pointee.ifi_index
                }
            }
        } catch where error.errno == ENODEV {
            return nil
        }
        return found
    }

    /// Creates a dummy interface `name` (unless it exists), brings it up and returns its index.
    public func ensureDummy(_ name: String) throws(NetfilterError) -> Int32 {
        if let i = try index(of: name) {
            try setUp(i, name: name)
            return i
        }
        try channel.request(what: "create dummy interface \(name)", build: { nlh in
            nlh.pointee.nlmsg_type = UInt16(RTM_NEWLINK)
            nlh.pointee.nlmsg_flags = UInt16(NLM_F_CREATE | NLM_F_EXCL)
            let ifi = Self.putLinkHeader(nlh)
            ifi?.pointee.ifi_flags = Self.up
            ifi?.pointee.ifi_change = Self.up
            mnl_attr_put_strz(nlh, UInt16(IFLA_IFNAME), name)
            let info = mnl_attr_nest_start(nlh, UInt16(IFLA_LINKINFO))
            mnl_attr_put_strz(nlh, UInt16(IFLA_INFO_KIND), "dummy")
            mnl_attr_nest_end(nlh, info)
        }) { _ in }
        guard let i = try index(of: name) else {
            throw NetfilterError(kind: .protocolError, object: "dummy interface \(name) vanished right after it was created")
        }
        return i
    }

    private func setUp(_ index: Int32, name: String) throws(NetfilterError) {
        try channel.request(what: "bring interface \(name) up", build: { nlh in
            nlh.pointee.nlmsg_type = UInt16(RTM_NEWLINK)
            let ifi = Self.putLinkHeader(nlh)
            ifi?.pointee.ifi_index = index
            ifi?.pointee.ifi_flags = Self.up
            ifi?.pointee.ifi_change = Self.up
        }) { _ in }
    }

    /// Deletes interface `name`; returns false when there was none.
    @discardableResult
    public func deleteLink(_ name: String) throws(NetfilterError) -> Bool {
        do {
            try channel.request(what: "delete interface \(name)", build: { nlh in
                nlh.pointee.nlmsg_type = UInt16(RTM_DELLINK)
                _ = Self.putLinkHeader(nlh)
                mnl_attr_put_strz(nlh, UInt16(IFLA_IFNAME), name)
            }) { _ in }
            return true
        } catch where error.errno == ENODEV {
            return false
        }
    }

    /// The addresses on interface `index` (both families).
    public func addresses(on index: Int32) throws(NetfilterError) -> [IPAddress] {
        var result: [IPAddress] = []
        _ = try channel.dump(what: "interface addresses", build: { nlh in
            nlh.pointee.nlmsg_type = UInt16(RTM_GETADDR)
            _ = mnl_nlmsg_put_extra_header(nlh, MemoryLayout<ifaddrmsg>.size)
        }) { m in
            guard let raw = mnl_nlmsg_get_payload(m) else { return }
            let ifa = raw.assumingMemoryBound(to: ifaddrmsg.self).pointee
            guard Int32(ifa.ifa_index) == index else { return }
            let attrs = NetlinkAttributes(message: m, headerBytes: MemoryLayout<ifaddrmsg>.size)
            // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
            guard let a = attrs.first(UInt16(IFA_LOCAL)) ?? attrs.first(UInt16(IFA_ADDRESS)) else { return }
            let address = Int32(ifa.ifa_family) == AF_INET6
                ? IPv6Address(bytes: a.bytes).map(IPAddress.v6) : IPv4Address(bytes: a.bytes).map(IPAddress.v4)
            if let address { result.append(address) }
        }
        return result
    }

    /// Adds (or with `delete`, removes) host addresses (/32, /128) on interface `index`; returns
    /// each address the kernel refused with its error. Adding one that is there is not an error.
    public func change(addresses: [IPAddress], on index: Int32, delete: Bool = false) throws(NetfilterError) -> [(IPAddress, NetfilterError)] {
        let failures = try channel.send(addresses) { address, nlh in
            nlh.pointee.nlmsg_type = UInt16(delete ? RTM_DELADDR : RTM_NEWADDR)
            if !delete { nlh.pointee.nlmsg_flags = UInt16(NLM_F_CREATE | NLM_F_REPLACE) }
            guard let raw = mnl_nlmsg_put_extra_header(nlh, MemoryLayout<ifaddrmsg>.size) else { return }
            let ifa = raw.assumingMemoryBound(to: ifaddrmsg.self)
            let v6 = address.family == .v6
            ifa.pointee.ifa_family = UInt8(v6 ? AF_INET6 : AF_INET)
            ifa.pointee.ifa_prefixlen = v6 ? 128 : 32
            // No duplicate address detection: the address is the node's own virtual one.
            ifa.pointee.ifa_flags = v6 ? UInt8(IFA_F_NODAD) : 0
            ifa.pointee.ifa_scope = UInt8(RT_SCOPE_UNIVERSE.rawValue)
            ifa.pointee.ifa_index = UInt32(bitPattern: index)
            let bytes = address.bytes
            bytes.withUnsafeBytes { b in
                mnl_attr_put(nlh, UInt16(IFA_LOCAL), b.count, b.baseAddress)
                mnl_attr_put(nlh, UInt16(IFA_ADDRESS), b.count, b.baseAddress)
            }
        }
        return failures.map { f in
            (addresses[f.index], NetfilterError(kind: .rejected, errno: f.errno,
                                                object: "\(delete ? "delete" : "add") address \(addresses[f.index]) on interface \(index)",
                                                kernelMessage: f.kernelMessage))
        }
    }

    private static func putLinkHeader(_ nlh: UnsafeMutablePointer<nlmsghdr>) -> UnsafeMutablePointer<ifinfomsg>? {
        guard let raw = mnl_nlmsg_put_extra_header(nlh, MemoryLayout<ifinfomsg>.size) else { return nil }
        let ifi = raw.assumingMemoryBound(to: ifinfomsg.self)
        ifi.pointee.ifi_family = UInt8(AF_UNSPEC)
        return ifi
    }
}
