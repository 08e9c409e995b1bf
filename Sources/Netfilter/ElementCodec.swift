import CNetfilter
import NFTables

/// Set elements to and from libnftnl.
enum ElementCodec {
    private static func a(_ v: Int) -> UInt16 { UInt16(v) }

    static func make(_ e: SetElement) -> OpaquePointer? {
        guard let el = nftnl_set_elem_alloc() else { return nil }
        e.key.withUnsafeBytes { _ = nftnl_set_elem_set(el, a(NFTNL_SET_ELEM_KEY), $0.baseAddress, UInt32($0.count)) }
        if let end = e.keyEnd {
            end.withUnsafeBytes { _ = nftnl_set_elem_set(el, a(NFTNL_SET_ELEM_KEY_END), $0.baseAddress, UInt32($0.count)) }
        }
        switch e.data {
        case .verdict(let v):
            nftnl_set_elem_set_u32(el, a(NFTNL_SET_ELEM_VERDICT), UInt32(bitPattern: v.code))
            if let c = v.chain { nftnl_set_elem_set_str(el, a(NFTNL_SET_ELEM_CHAIN), c) }
        case .value(let bytes):
            bytes.withUnsafeBytes { _ = nftnl_set_elem_set(el, a(NFTNL_SET_ELEM_DATA), $0.baseAddress, UInt32($0.count)) }
        case nil:
            break
        }
        if let t = e.timeoutMillis { nftnl_set_elem_set_u64(el, a(NFTNL_SET_ELEM_TIMEOUT), t) }
        if e.intervalEnd { nftnl_set_elem_set_u32(el, a(NFTNL_SET_ELEM_FLAGS), UInt32(NFT_SET_ELEM_INTERVAL_END.rawValue)) }
        if let ud = UserData.commentOnly(e.comment) {
            ud.withUnsafeBytes { _ = nftnl_set_elem_set(el, a(NFTNL_SET_ELEM_USERDATA), $0.baseAddress, UInt32($0.count)) }
        }
        return el
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
