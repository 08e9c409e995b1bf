import CNetfilter
import NFTables

extension NFTablesConnection {
    /// What the kernel holds, as model values: tables, chains, named sets with their elements,
    /// and rules (anonymous sets inlined into the rules that own them). Restricted to `tables`
    /// when given. A dump interrupted by a concurrent change is retried.
    public func ruleset(tables filter: Set<TableID>? = nil) throws(NetfilterError) -> Ruleset {
        for _ in 0..<5 {
            if let r = try readOnce(filter) { return r }
        }
        throw NetfilterError(kind: .protocolError, object: "the ruleset kept changing during readback (5 tries)")
    }

    private func readOnce(_ filter: Set<TableID>?) throws(NetfilterError) -> Ruleset? {
        func wanted(_ id: TableID) -> Bool { filter?.contains(id) ?? true }
        var result = Ruleset()
        var consistent = true

        consistent = try dump(NFT_MSG_GETTABLE) { (nlh: UnsafePointer<nlmsghdr>) throws(NetfilterError) in
            if let t = Self.readTable(nlh), wanted(t.id) { result.tables.append(t) }
        } && consistent
        consistent = try dump(NFT_MSG_GETCHAIN) { (nlh: UnsafePointer<nlmsghdr>) throws(NetfilterError) in
            if let c = Self.readChain(nlh), wanted(c.table) { result.chains.append(c) }
        } && consistent
        var sets: [NFSet] = []
        consistent = try dump(NFT_MSG_GETSET) { (nlh: UnsafePointer<nlmsghdr>) throws(NetfilterError) in
            if let s = Self.readSet(nlh), wanted(s.table) { sets.append(s) }
        } && consistent
        // Elements come per set; the kernel's name for anonymous sets is kept here only to
        // resolve the rules' lookups.
        var byName: [TableID: [String: NFSet]] = [:]
        for var s in sets {
            let kernelName = s.name
            consistent = try dump(NFT_MSG_GETSETELEM, family: s.table.family.nfproto, payload: { nlh in
                guard let obj = nftnl_set_alloc() else { return }
                defer { nftnl_set_free(obj) }
                nftnl_set_set_str(obj, UInt16(NFTNL_SET_TABLE.rawValue), s.table.name)
                nftnl_set_set_str(obj, UInt16(NFTNL_SET_NAME.rawValue), kernelName)
                nftnl_set_elems_nlmsg_build_payload(nlh, obj)
            }) { (nlh: UnsafePointer<nlmsghdr>) throws(NetfilterError) in
                s.elements += Self.readElements(nlh, map: s.data)
            } && consistent
            if s.isAnonymous {
                s.name = ""
            } else {
                result.sets.append(s)
            }
            byName[s.table, default: [:]][kernelName] = s
        }
        consistent = try dump(NFT_MSG_GETRULE) { (nlh: UnsafePointer<nlmsghdr>) throws(NetfilterError) in
            guard var r = Self.readRule(nlh), wanted(r.chain.table) else { return }
            r.expressions = r.expressions.map { e in
                guard case .lookup(let from, .named(let name), let into, let invert) = e,
                      let s = byName[r.chain.table]?[name], s.isAnonymous else { return e }
                return .lookup(from: from, set: .anonymous(s), into: into, invert: invert)
            }
            result.rules.append(r)
        } && consistent
        return consistent ? result : nil
    }

    private static func bytes(_ p: UnsafeRawPointer?, _ len: UInt32) -> [UInt8]? {
        guard let p else { return nil }
        return Array(UnsafeRawBufferPointer(start: p, count: Int(len)))
    }

    private static func family(_ v: UInt32) -> Family? { Family(nfproto: UInt8(truncatingIfNeeded: v)) }

    static func readTable(_ nlh: UnsafePointer<nlmsghdr>) -> Table? {
        guard let obj = nftnl_table_alloc() else { return nil }
        defer { nftnl_table_free(obj) }
        guard nftnl_table_nlmsg_parse(nlh, obj) >= 0,
              let name = nftnl_table_get_str(obj, UInt16(NFTNL_TABLE_NAME.rawValue)),
              let f = family(nftnl_table_get_u32(obj, UInt16(NFTNL_TABLE_FAMILY.rawValue))) else { return nil }
        var len: UInt32 = 0
        let ud = nftnl_table_is_set(obj, UInt16(NFTNL_TABLE_USERDATA.rawValue))
            ? bytes(nftnl_table_get_data(obj, UInt16(NFTNL_TABLE_USERDATA.rawValue), &len), len) : nil
        return Table(f, String(cString: name), comment: UserData.comment(in: ud))
    }

    static func readChain(_ nlh: UnsafePointer<nlmsghdr>) -> Chain? {
        guard let obj = nftnl_chain_alloc() else { return nil }
        defer { nftnl_chain_free(obj) }
        guard nftnl_chain_nlmsg_parse(nlh, obj) >= 0,
              let name = nftnl_chain_get_str(obj, UInt16(NFTNL_CHAIN_NAME.rawValue)),
              let tname = nftnl_chain_get_str(obj, UInt16(NFTNL_CHAIN_TABLE.rawValue)),
              let f = family(nftnl_chain_get_u32(obj, UInt16(NFTNL_CHAIN_FAMILY.rawValue))) else { return nil }
        var base: BaseChain?
        if nftnl_chain_is_set(obj, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue)),
           let hook = Hook.from(number: nftnl_chain_get_u32(obj, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue)), family: f),
           let typeName = nftnl_chain_get_str(obj, UInt16(NFTNL_CHAIN_TYPE.rawValue)),
           let type = ChainType(rawValue: String(cString: typeName)) {
            let policyCode = Int32(bitPattern: nftnl_chain_get_u32(obj, UInt16(NFTNL_CHAIN_POLICY.rawValue)))
            base = BaseChain(type: type, hook: hook, priority: nftnl_chain_get_s32(obj, UInt16(NFTNL_CHAIN_PRIO.rawValue)),
                             policy: Verdict(code: policyCode, chain: nil) ?? .accept)
        }
        var len: UInt32 = 0
        let ud = nftnl_chain_is_set(obj, UInt16(NFTNL_CHAIN_USERDATA.rawValue))
            ? bytes(nftnl_chain_get_data(obj, UInt16(NFTNL_CHAIN_USERDATA.rawValue), &len), len) : nil
        return Chain(TableID(f, String(cString: tname)), String(cString: name), base: base, comment: UserData.comment(in: ud))
    }

    static func readSet(_ nlh: UnsafePointer<nlmsghdr>) -> NFSet? {
        guard let obj = nftnl_set_alloc() else { return nil }
        defer { nftnl_set_free(obj) }
        func u32(_ a: nftnl_set_attr) -> UInt32 { nftnl_set_get_u32(obj, UInt16(a.rawValue)) }
        func has(_ a: nftnl_set_attr) -> Bool { nftnl_set_is_set(obj, UInt16(a.rawValue)) }
        guard nftnl_set_nlmsg_parse(nlh, obj) >= 0,
              let name = nftnl_set_get_str(obj, UInt16(NFTNL_SET_NAME.rawValue)),
              let tname = nftnl_set_get_str(obj, UInt16(NFTNL_SET_TABLE.rawValue)),
              let f = family(u32(NFTNL_SET_FAMILY)) else { return nil }
        let keyLen = Int(u32(NFTNL_SET_KEY_LEN))
        let key = TypeList.decode(id: u32(NFTNL_SET_KEY_TYPE), length: keyLen)
            ?? TypeList([DataType(name: "integer", id: 4, length: keyLen, byteOrder: .host)])
        var data: SetData?
        if has(NFTNL_SET_DATA_TYPE) {
            let dt = u32(NFTNL_SET_DATA_TYPE)
            if dt == SetData.verdictTypeID {
                data = .verdict
            } else {
                let dl = Int(u32(NFTNL_SET_DATA_LEN))
                data = .value(TypeList.decode(id: dt, length: dl) ?? TypeList([DataType(name: "integer", id: 4, length: dl, byteOrder: .host)]))
            }
        }
        var len: UInt32 = 0
        let ud = has(NFTNL_SET_USERDATA) ? bytes(nftnl_set_get_data(obj, UInt16(NFTNL_SET_USERDATA.rawValue), &len), len) : nil
        let flags = SetFlags(rawValue: u32(NFTNL_SET_FLAGS))
        let timeout = has(NFTNL_SET_TIMEOUT) ? nftnl_set_get_u64(obj, UInt16(NFTNL_SET_TIMEOUT.rawValue)) : 0
        var s = NFSet(TableID(f, String(cString: tname)), String(cString: name), key: key, data: data,
                      timeoutMillis: timeout == 0 ? nil : timeout,
                      size: has(NFTNL_SET_DESC_SIZE) && !flags.contains(.anonymous) ? u32(NFTNL_SET_DESC_SIZE) : nil,
                      comment: UserData.comment(in: ud, type: UserData.setComment))
        s.flags = flags
        s.keyTypeof = UserData.typeof(in: ud, type: UserData.setKeyTypeof)
        s.dataTypeof = UserData.typeof(in: ud, type: UserData.setDataTypeof)
        return s
    }

    static func readElements(_ nlh: UnsafePointer<nlmsghdr>, map: SetData?) -> [SetElement] {
        guard let obj = nftnl_set_alloc() else { return [] }
        defer { nftnl_set_free(obj) }
        guard nftnl_set_elems_nlmsg_parse(nlh, obj) >= 0, let it = nftnl_set_elems_iter_create(obj) else { return [] }
        defer { nftnl_set_elems_iter_destroy(it) }
        var out: [SetElement] = []
        var el = nftnl_set_elems_iter_next(it)
        while let e = el {
            out.append(ElementCodec.read(e, map: map))
            el = nftnl_set_elems_iter_next(it)
        }
        return out
    }

    static func readRule(_ nlh: UnsafePointer<nlmsghdr>) -> Rule? {
        guard let obj = nftnl_rule_alloc() else { return nil }
        defer { nftnl_rule_free(obj) }
        guard nftnl_rule_nlmsg_parse(nlh, obj) >= 0,
              let tname = nftnl_rule_get_str(obj, UInt16(NFTNL_RULE_TABLE.rawValue)),
              let cname = nftnl_rule_get_str(obj, UInt16(NFTNL_RULE_CHAIN.rawValue)),
              let f = family(nftnl_rule_get_u32(obj, UInt16(NFTNL_RULE_FAMILY.rawValue))) else { return nil }
        var exprs: [Expression] = []
        if let it = nftnl_expr_iter_create(obj) {
            defer { nftnl_expr_iter_destroy(it) }
            var e = nftnl_expr_iter_next(it)
            while let cur = e {
                exprs.append(ExpressionDecoder.read(cur))
                e = nftnl_expr_iter_next(it)
            }
        }
        var len: UInt32 = 0
        let ud = nftnl_rule_is_set(obj, UInt16(NFTNL_RULE_USERDATA.rawValue))
            ? bytes(nftnl_rule_get_data(obj, UInt16(NFTNL_RULE_USERDATA.rawValue), &len), len) : nil
        var r = Rule(ChainID(TableID(f, String(cString: tname)), String(cString: cname)), exprs, comment: UserData.comment(in: ud))
        r.handle = nftnl_rule_get_u64(obj, UInt16(NFTNL_RULE_HANDLE.rawValue))
        return r
    }
}
