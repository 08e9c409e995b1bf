import CNetfilter
import NFTables

/// Set elements to and from libnftnl.
enum ElementCodec {
    private static func a(_ v: Int) -> UInt16 { UInt16(v) }

    /// The last element comment's user data: a port's elements share their comment.
    struct CommentCache {
        var comment: String?
        var bytes: [UInt8]?

        mutating func userData(_ c: String?) -> [UInt8]? {
            guard let c else { return nil }
            if c != comment {
                comment = c
                bytes = UserData.commentOnly(c)
            }
            return bytes
        }
    }

    /// Writes element number `index` of a NEWSETELEM/DELSETELEM list straight into the message,
    /// attribute for attribute as libnftnl's `nftnl_set_elem_nlmsg_build_payload` does, without
    /// an element object (and its allocations) per element.
    static func put(_ e: SetElement, into nlh: UnsafeMutablePointer<nlmsghdr>, index: UInt16, comments: inout CommentCache) {
        let nest = mnl_attr_nest_start(nlh, index)
        if e.intervalEnd {
            mnl_attr_put_u32(nlh, a(Int(NFTA_SET_ELEM_FLAGS.rawValue)), UInt32(NFT_SET_ELEM_INTERVAL_END.rawValue).bigEndian)
        }
        if let t = e.timeoutMillis { mnl_attr_put_u64(nlh, a(Int(NFTA_SET_ELEM_TIMEOUT.rawValue)), t.bigEndian) }
        putValue(nlh, NFTA_SET_ELEM_KEY, e.key)
        if let end = e.keyEnd { putValue(nlh, NFTA_SET_ELEM_KEY_END, end) }
        switch e.data {
        case .verdict(let v):
            let data = mnl_attr_nest_start(nlh, a(Int(NFTA_SET_ELEM_DATA.rawValue)))
            let verdict = mnl_attr_nest_start(nlh, a(Int(NFTA_DATA_VERDICT.rawValue)))
            mnl_attr_put_u32(nlh, a(Int(NFTA_VERDICT_CODE.rawValue)), UInt32(bitPattern: v.code).bigEndian)
            if let c = v.chain { mnl_attr_put_strz(nlh, a(Int(NFTA_VERDICT_CHAIN.rawValue)), c) }
            mnl_attr_nest_end(nlh, verdict)
            mnl_attr_nest_end(nlh, data)
        case .value(let bytes):
            putValue(nlh, NFTA_SET_ELEM_DATA, bytes)
        case nil:
            break
        }
        if let ud = comments.userData(e.comment) {
            ud.withUnsafeBytes { mnl_attr_put(nlh, a(Int(NFTA_SET_ELEM_USERDATA.rawValue)), $0.count, $0.baseAddress) }
        }
        mnl_attr_nest_end(nlh, nest)
    }

    /// `attr { NFTA_DATA_VALUE bytes }`.
    private static func putValue(_ nlh: UnsafeMutablePointer<nlmsghdr>, _ attr: nft_set_elem_attributes, _ bytes: [UInt8]) {
        let nest = mnl_attr_nest_start(nlh, a(Int(attr.rawValue)))
        bytes.withUnsafeBytes { mnl_attr_put(nlh, a(Int(NFTA_DATA_VALUE.rawValue)), $0.count, $0.baseAddress) }
        mnl_attr_nest_end(nlh, nest)
    }

    private static func bytes(_ el: OpaquePointer, _ attr: Int) -> [UInt8]? {
        guard nftnl_set_elem_is_set(el, a(attr)) else { return nil }
        var len: UInt32 = 0
        guard let p = nftnl_set_elem_get(el, a(attr), &len) else { return nil }
        return Array(UnsafeRawBufferPointer(start: p, count: Int(len)))
    }

    /// Reads an element back. Timeouts of dynamic sets' elements (added by packets) are the
    /// set's, and their remaining time (expiration) is left out of the model.
    static func read(_ el: OpaquePointer, map: SetData?) -> SetElement {
        var e = SetElement(key: bytes(el, NFTNL_SET_ELEM_KEY) ?? [])
        e.keyEnd = bytes(el, NFTNL_SET_ELEM_KEY_END)
        if nftnl_set_elem_is_set(el, a(NFTNL_SET_ELEM_VERDICT)) {
            let code = Int32(bitPattern: nftnl_set_elem_get_u32(el, a(NFTNL_SET_ELEM_VERDICT)))
            let chain: String? = nftnl_set_elem_is_set(el, a(NFTNL_SET_ELEM_CHAIN))
                ? nftnl_set_elem_get_str(el, a(NFTNL_SET_ELEM_CHAIN)).map { String(cString: $0) } : nil
            if let v = Verdict(code: code, chain: chain) { e.data = .verdict(v) }
        } else if let d = bytes(el, NFTNL_SET_ELEM_DATA), map != nil {
            e.data = .value(d)
        }
        if nftnl_set_elem_is_set(el, a(NFTNL_SET_ELEM_TIMEOUT)) {
            e.timeoutMillis = nftnl_set_elem_get_u64(el, a(NFTNL_SET_ELEM_TIMEOUT))
        }
        if nftnl_set_elem_is_set(el, a(NFTNL_SET_ELEM_FLAGS)) {
            e.intervalEnd = nftnl_set_elem_get_u32(el, a(NFTNL_SET_ELEM_FLAGS)) & UInt32(NFT_SET_ELEM_INTERVAL_END.rawValue) != 0
        }
        e.comment = UserData.comment(in: bytes(el, NFTNL_SET_ELEM_USERDATA))
        return e
    }
}
