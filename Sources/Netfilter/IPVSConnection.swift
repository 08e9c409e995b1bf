import CNetfilter
import Glibc
import IPVS
import NFTables
import NetworkTypes

/// The kernel's IPVS table over generic netlink (family "IPVS"), in the network namespace of
/// the thread that opens it: virtual services and destinations added, edited, deleted and
/// read back as `IPVS` values. Not shareable across tasks; its owner serialises use.
public final class IPVSConnection {
    private let channel: NetlinkChannel
    /// The generic netlink family id the kernel gave IPVS when the module loaded.
    let familyID: UInt16

    public init() throws(IPVSError) {
        do {
            channel = try NetlinkChannel(protocol: NETLINK_GENERIC, name: "NETLINK_GENERIC")
        } catch {
            throw IPVSError(kind: .system(error), errno: error.errno)
        }
        familyID = try Self.resolveFamily(channel)
    }

    /// Asks the generic netlink controller for IPVS's family id. The controller itself asks
    /// the kernel to load a module that registers a missing family, so a kernel with ip_vs
    /// built as a module usually answers here without a prior `modprobe`.
    private static func resolveFamily(_ channel: NetlinkChannel) throws(IPVSError) -> UInt16 {
        var id: UInt16?
        do {
            try channel.request(what: "generic netlink family IPVS", build: { nlh in
                nlh.pointee.nlmsg_type = UInt16(GENL_ID_CTRL)
                Self.putGenericHeader(nlh, command: UInt8(CTRL_CMD_GETFAMILY), version: 1)
                mnl_attr_put_strz(nlh, UInt16(CTRL_ATTR_FAMILY_NAME), IPVS_GENL_NAME)
            }) { m in
                let attrs = NetlinkAttributes(message: m, headerBytes: MemoryLayout<genlmsghdr>.size)
                id = attrs.first(UInt16(CTRL_ATTR_FAMILY_ID))?.u16
            }
        } catch {
            if error.errno == ENOENT { throw IPVSError(kind: .unavailable, errno: ENOENT) }
            throw IPVSError(kind: .system(error), errno: error.errno)
        }
        guard let id else { throw IPVSError(kind: .protocolError("the controller named no id for IPVS")) }
        return id
    }

    // MARK: changes

    /// Sends every command (in order, in as few system calls as fit) and throws the first the
    /// kernel refused. IPVS has no transactions: the commands before and after a refused one
    /// stay applied; `IPVSError.otherFailures` counts the other refusals.
    public func apply(_ commands: [IPVSCommand]) throws(IPVSError) {
        guard !commands.isEmpty else { return }
        let failures: [NetlinkChannel.Failure]
        do {
            failures = try channel.send(commands) { command, nlh in
                Self.encode(command, into: nlh, family: familyID)
            }
        } catch {
            throw IPVSError(kind: .system(error), errno: error.errno)
        }
        guard let first = failures.first else { return }
        throw IPVSError(kind: .rejected(commands[first.index]), errno: first.errno,
                        kernelMessage: first.kernelMessage, otherFailures: failures.count - 1)
    }

    /// Removes every virtual service of this namespace, Sluice's or not (`ipvsadm -C`).
    public func flush() throws(IPVSError) {
        do {
            try channel.request(what: "flush of every IPVS virtual service", build: { nlh in
                nlh.pointee.nlmsg_type = familyID
                Self.putGenericHeader(nlh, command: UInt8(IPVS_CMD_FLUSH), version: UInt8(IPVS_GENL_VERSION))
            }) { _ in }
        } catch {
            throw IPVSError(kind: .system(error), errno: error.errno)
        }
    }

    // MARK: readback

    /// Every virtual service with its destinations, as the kernel holds them. Services Sluice
    /// did not make are included; firewall-mark services (which Sluice never makes) are not.
    public func state() throws(IPVSError) -> IPVSState {
        for _ in 0..<5 {
            if let s = try readOnce() { return s }
        }
        throw IPVSError(kind: .protocolError("the IPVS table kept changing during readback (5 tries)"))
    }

    /// The virtual services alone, without their destinations (one dump instead of one per service).
    public func services() throws(IPVSError) -> [VirtualService] {
        var result: [VirtualService] = []
        var failure: IPVSError?
        do {
            _ = try channel.dump(what: "IPVS virtual services", build: { nlh in
                nlh.pointee.nlmsg_type = familyID
                Self.putGenericHeader(nlh, command: UInt8(IPVS_CMD_GET_SERVICE), version: UInt8(IPVS_GENL_VERSION))
            }) { m in
                let attrs = NetlinkAttributes(message: m, headerBytes: MemoryLayout<genlmsghdr>.size)
                guard let nested = attrs.first(UInt16(IPVS_CMD_ATTR_SERVICE))?.nested else { return }
                switch Self.decodeService(nested) {
                case .service(let s): result.append(s)
                case .firewallMark: break
                case .malformed(let why): failure = failure ?? IPVSError(kind: .protocolError(why))
                }
            }
        } catch {
            throw IPVSError(kind: .system(error), errno: error.errno)
        }
        if let failure { throw failure }
        return result
    }

    /// The destinations of one virtual service.
    public func destinations(of key: VirtualServiceKey) throws(IPVSError) -> [Destination] {
        var result: [Destination] = []
        var failure: IPVSError?
        do {
            _ = try channel.dump(what: "destinations of IPVS virtual service \(key)", build: { nlh in
                nlh.pointee.nlmsg_type = familyID
                Self.putGenericHeader(nlh, command: UInt8(IPVS_CMD_GET_DEST), version: UInt8(IPVS_GENL_VERSION))
                Self.putServiceIdentity(key, into: nlh)
            }) { m in
                let attrs = NetlinkAttributes(message: m, headerBytes: MemoryLayout<genlmsghdr>.size)
                guard let nested = attrs.first(UInt16(IPVS_CMD_ATTR_DEST))?.nested else { return }
                if let d = Self.decodeDestination(nested, family: key.family) {
                    result.append(d)
                } else {
                    failure = failure ?? IPVSError(kind: .protocolError("a destination of \(key) without address or port"))
                }
            }
        } catch {
            if error.errno == ESRCH { return [] }  // deleted between the two dumps
            throw IPVSError(kind: .system(error), errno: error.errno)
        }
        if let failure { throw failure }
        return result
    }

    private func readOnce() throws(IPVSError) -> IPVSState? {
        var state = IPVSState()
        let services = try services()
        state.services.reserveCapacity(services.count)
        for s in services {
            state.insert(s, destinations: try destinations(of: s.key))
        }
        // The kernel cannot flag a change between the per-service dumps; a second look at
        // the service list catches services added or removed meanwhile.
        let again = try self.services()
        guard again.count == services.count, Set(again.map(\.key)) == Set(state.services.keys) else { return nil }
        return state
    }
}

// MARK: encoding

extension IPVSConnection {
    static func putGenericHeader(_ nlh: UnsafeMutablePointer<nlmsghdr>, command: UInt8, version: UInt8) {
        guard let raw = mnl_nlmsg_put_extra_header(nlh, MemoryLayout<genlmsghdr>.size) else { return }
        let genl = raw.assumingMemoryBound(to: genlmsghdr.self)
        genl.pointee.cmd = command
        genl.pointee.version = version
    }

    static func encode(_ command: IPVSCommand, into nlh: UnsafeMutablePointer<nlmsghdr>, family: UInt16) {
        nlh.pointee.nlmsg_type = family
        let version = UInt8(IPVS_GENL_VERSION)
        switch command {
        case .addService(let s):
            putGenericHeader(nlh, command: UInt8(IPVS_CMD_NEW_SERVICE), version: version)
            putService(s, into: nlh)
        case .editService(let s):
            putGenericHeader(nlh, command: UInt8(IPVS_CMD_SET_SERVICE), version: version)
            putService(s, into: nlh)
        case .deleteService(let k):
            putGenericHeader(nlh, command: UInt8(IPVS_CMD_DEL_SERVICE), version: version)
            putServiceIdentity(k, into: nlh)
        case .addDestination(let k, let d):
            putGenericHeader(nlh, command: UInt8(IPVS_CMD_NEW_DEST), version: version)
            putServiceIdentity(k, into: nlh)
            putDestination(d, into: nlh, full: true)
        case .editDestination(let k, let d):
            putGenericHeader(nlh, command: UInt8(IPVS_CMD_SET_DEST), version: version)
            putServiceIdentity(k, into: nlh)
            putDestination(d, into: nlh, full: true)
        case .deleteDestination(let k, let dk):
            putGenericHeader(nlh, command: UInt8(IPVS_CMD_DEL_DEST), version: version)
            putServiceIdentity(k, into: nlh)
            putDestination(Destination(address: dk.address, port: dk.port), into: nlh, full: false)
        }
    }

    static func addressFamily(_ f: IPFamily) -> UInt16 { UInt16(f == .v6 ? AF_INET6 : AF_INET) }

    /// The kernel keeps addresses in a 16-byte union (nf_inet_addr); IPv4 fills its first 4.
    static func putAddress(_ a: IPAddress, type: Int32, into nlh: UnsafeMutablePointer<nlmsghdr>) {
        var bytes = a.bytes
        bytes += [UInt8](repeating: 0, count: 16 - bytes.count)
        bytes.withUnsafeBytes { mnl_attr_put(nlh, UInt16(type), 16, $0.baseAddress) }
    }

    /// The three attributes that name a virtual service (in a nested IPVS_CMD_ATTR_SERVICE).
    static func putServiceIdentity(_ k: VirtualServiceKey, into nlh: UnsafeMutablePointer<nlmsghdr>) {
        let nest = mnl_attr_nest_start(nlh, UInt16(IPVS_CMD_ATTR_SERVICE))
        putServiceIdentityAttributes(k, into: nlh)
        mnl_attr_nest_end(nlh, nest)
    }

    private static func putServiceIdentityAttributes(_ k: VirtualServiceKey, into nlh: UnsafeMutablePointer<nlmsghdr>) {
        mnl_attr_put_u16(nlh, UInt16(IPVS_SVC_ATTR_AF), addressFamily(k.family))
        mnl_attr_put_u16(nlh, UInt16(IPVS_SVC_ATTR_PROTOCOL), UInt16(k.protocol))
        putAddress(k.address, type: Int32(IPVS_SVC_ATTR_ADDR), into: nlh)
        mnl_attr_put_u16(nlh, UInt16(IPVS_SVC_ATTR_PORT), k.port.bigEndian)
    }

    /// A whole service: the kernel wants scheduler, flags, timeout and netmask together on
    /// add and edit (it answers EINVAL when one is missing).
    static func putService(_ s: VirtualService, into nlh: UnsafeMutablePointer<nlmsghdr>) {
        let nest = mnl_attr_nest_start(nlh, UInt16(IPVS_CMD_ATTR_SERVICE))
        putServiceIdentityAttributes(s.key, into: nlh)
        mnl_attr_put_strz(nlh, UInt16(IPVS_SVC_ATTR_SCHED_NAME), s.scheduler.rawValue)
        // The mask limits the change to the flags userspace owns; the kernel keeps its own.
        var flags = ip_vs_flags(flags: s.flags.rawValue, mask: VirtualServiceFlags.userFlags.rawValue)
        mnl_attr_put(nlh, UInt16(IPVS_SVC_ATTR_FLAGS), MemoryLayout<ip_vs_flags>.size, &flags)
        mnl_attr_put_u32(nlh, UInt16(IPVS_SVC_ATTR_TIMEOUT), s.timeout)
        // Read by the kernel as a raw 32-bit field: an IPv4 mask's bytes, or an IPv6 prefix length.
        mnl_attr_put_u32(nlh, UInt16(IPVS_SVC_ATTR_NETMASK), s.netmask)
        mnl_attr_nest_end(nlh, nest)
    }

    static func putDestination(_ d: Destination, into nlh: UnsafeMutablePointer<nlmsghdr>, full: Bool) {
        let nest = mnl_attr_nest_start(nlh, UInt16(IPVS_CMD_ATTR_DEST))
        putAddress(d.key.address, type: Int32(IPVS_DEST_ATTR_ADDR), into: nlh)
        mnl_attr_put_u16(nlh, UInt16(IPVS_DEST_ATTR_PORT), d.key.port.bigEndian)
        mnl_attr_put_u16(nlh, UInt16(IPVS_DEST_ATTR_ADDR_FAMILY), addressFamily(d.key.address.family))
        if full {
            mnl_attr_put_u32(nlh, UInt16(IPVS_DEST_ATTR_FWD_METHOD), d.forward.rawValue)
            mnl_attr_put_u32(nlh, UInt16(IPVS_DEST_ATTR_WEIGHT), d.weight)
            mnl_attr_put_u32(nlh, UInt16(IPVS_DEST_ATTR_U_THRESH), d.upperThreshold)
            mnl_attr_put_u32(nlh, UInt16(IPVS_DEST_ATTR_L_THRESH), d.lowerThreshold)
        }
        mnl_attr_nest_end(nlh, nest)
    }
}

// MARK: decoding

extension IPVSConnection {
    enum DecodedService {
        case service(VirtualService)
        case firewallMark
        case malformed(String)
    }

    static func decodeAddress(_ a: NetlinkAttributes.Attribute?, family: IPFamily) -> IPAddress? {
        guard let a, a.payload.count >= 4 else { return nil }
        if family == .v6 {
            guard a.payload.count >= 16 else { return nil }
            return IPv6Address(bytes: Array(a.payload.prefix(16))).map(IPAddress.v6)
        }
        return IPv4Address(bytes: Array(a.payload.prefix(4))).map(IPAddress.v4)
    }

    static func decodeService(_ attrs: NetlinkAttributes) -> DecodedService {
        var af: UInt16?, proto: UInt16?, port: UInt16?, sched: String?, timeout: UInt32 = 0, netmask: UInt32?
        var flags: UInt32 = 0, fwmark: UInt32 = 0
        var addr: NetlinkAttributes.Attribute?
        for a in attrs {
            switch Int32(a.type) {
            case Int32(IPVS_SVC_ATTR_AF): af = a.u16
            case Int32(IPVS_SVC_ATTR_PROTOCOL): proto = a.u16
            case Int32(IPVS_SVC_ATTR_ADDR): addr = a
            case Int32(IPVS_SVC_ATTR_PORT): port = a.be16
            case Int32(IPVS_SVC_ATTR_FWMARK): fwmark = a.u32 ?? 0
            case Int32(IPVS_SVC_ATTR_SCHED_NAME): sched = a.string
            case Int32(IPVS_SVC_ATTR_FLAGS): flags = a.u32 ?? 0
            case Int32(IPVS_SVC_ATTR_TIMEOUT): timeout = a.u32 ?? 0
            case Int32(IPVS_SVC_ATTR_NETMASK): netmask = a.u32
            default: break
            }
        }
        if fwmark != 0 { return .firewallMark }
        guard let af, let proto, let port, let sched else {
            return .malformed("a virtual service without family, protocol, port or scheduler")
        }
        let family: IPFamily = Int32(af) == AF_INET6 ? .v6 : .v4
        guard let address = decodeAddress(addr, family: family) else {
            return .malformed("a virtual service without a valid address")
        }
        let key = VirtualServiceKey(protocol: UInt8(truncatingIfNeeded: proto), address: address, port: port)
        return .service(VirtualService(
            key: key, scheduler: IPVSScheduler(rawValue: sched),
            flags: VirtualServiceFlags(rawValue: flags).intersection(.userFlags),
            timeout: timeout, netmask: netmask))
    }

    static func decodeDestination(_ attrs: NetlinkAttributes, family serviceFamily: IPFamily) -> Destination? {
        var port: UInt16?, weight: UInt32 = 0, forward: UInt32 = 0, upper: UInt32 = 0, lower: UInt32 = 0
        var af: UInt16?
        var addr: NetlinkAttributes.Attribute?
        for a in attrs {
            switch Int32(a.type) {
            case Int32(IPVS_DEST_ATTR_ADDR): addr = a
            case Int32(IPVS_DEST_ATTR_PORT): port = a.be16
            case Int32(IPVS_DEST_ATTR_WEIGHT): weight = a.u32 ?? 0
            case Int32(IPVS_DEST_ATTR_FWD_METHOD): forward = a.u32 ?? 0
            case Int32(IPVS_DEST_ATTR_U_THRESH): upper = a.u32 ?? 0
            case Int32(IPVS_DEST_ATTR_L_THRESH): lower = a.u32 ?? 0
            case Int32(IPVS_DEST_ATTR_ADDR_FAMILY): af = a.u16
            default: break
            }
        }
        let family = af.map { Int32($0) == AF_INET6 ? IPFamily.v6 : .v4 } ?? serviceFamily
        guard let port, let address = decodeAddress(addr, family: family) else { return nil }
        return Destination(address: address, port: port, weight: weight,
                           forward: ForwardMethod(rawValue: forward & 0x7) ?? .masquerade,
                           upperThreshold: upper, lowerThreshold: lower)
    }
}
