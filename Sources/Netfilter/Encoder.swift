import CNetfilter
import NFTables

/// Turns `Transaction` commands into nf_tables netlink messages (through libnftnl objects,
/// freed as soon as each message is written).
struct Encoder: ~Copyable {
    /// Element lists go in messages of at most this many bytes of elements: the element-list
    /// attribute's length is 16 bits, so one message cannot carry more than 64 KiB of them.
    static let elementBytesPerMessage = 48 * 1024

    var buffer = MessageBuffer()
    /// What each message (by sequence number offset) was about, to name it in errors. Kept as
    /// small values and turned into text only when the kernel refuses a message.
    var origins: [Origin] = []
    private var command = 0
    let firstSeq: UInt32
    /// Where the last command's message starts, to ask for an ack on it alone.
    private(set) var lastMessageOffset: Int?
    private var nextSetID: UInt32 = 1

    init(firstSeq: UInt32) {
        self.firstSeq = firstSeq
    }

    var nextSeq: UInt32 { firstSeq &+ UInt32(origins.count) }

    // MARK: message framing

    private mutating func message(
        _ type: UInt16, family: UInt8, flags: Int32, origin: Origin = .command,
        payload: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) {
        let seq = nextSeq
        origins.append(origin.at(command))
        let t = buffer.tail()
        lastMessageOffset = buffer.length
        guard let nlh = nftnl_nlmsg_build_hdr(t, type, UInt16(family), UInt16(flags), seq) else { return }
        payload(nlh)
        buffer.commit(nlh)
    }

    mutating func begin() {
        let seq = nextSeq
        origins.append(.batch)
        if let nlh = nftnl_batch_begin(buffer.tail(), seq) { buffer.commit(nlh) }
    }

    /// Asks for an ack on the last command only: acks on every message would overflow the
    /// receive buffer on large batches (ENOBUFS) even though the batch commits.
    mutating func requestAckOnLastCommand() -> UInt32? {
        guard let offset = lastMessageOffset else { return nil }
        let nlh = (buffer.base + offset).assumingMemoryBound(to: nlmsghdr.self)
        nlh.pointee.nlmsg_flags |= UInt16(NLM_F_ACK)
        return nlh.pointee.nlmsg_seq
    }

    mutating func end() {
        let seq = nextSeq
        origins.append(.batch)
        if let nlh = nftnl_batch_end(buffer.tail(), seq) { buffer.commit(nlh) }
    }

    // MARK: commands

    mutating func encode(_ command: Transaction.Command, index: Int) {
        self.command = index
        let create = Int32(NLM_F_CREATE)
        let excl = Int32(NLM_F_EXCL)
        switch command {
        case .addTable(let t):
            table(t, NFT_MSG_NEWTABLE, flags: create)
        case .createTable(let t):
            table(t, NFT_MSG_NEWTABLE, flags: create | excl)
        case .deleteTable(let id):
            table(Table(id.family, id.name), NFT_MSG_DELTABLE, flags: 0)
        case .flushTable(let id):
            message(msg(NFT_MSG_DELRULE), family: id.family.nfproto, flags: 0) { nlh in
                Self.withRule(Rule(ChainID(id, ""), []), includeChain: false) { nftnl_rule_nlmsg_build_payload(nlh, $0) }
            }
        case .addChain(let c):
            chain(c, NFT_MSG_NEWCHAIN, flags: create)
        case .createChain(let c):
            chain(c, NFT_MSG_NEWCHAIN, flags: create | excl)
        case .deleteChain(let id):
            chain(Chain(id.table, id.name), NFT_MSG_DELCHAIN, flags: 0)
        case .flushChain(let id):
            message(msg(NFT_MSG_DELRULE), family: id.table.family.nfproto, flags: 0) { nlh in
                Self.withRule(Rule(id, []), includeChain: true) { nftnl_rule_nlmsg_build_payload(nlh, $0) }
            }
        case .addRule(let r):
            rule(r, flags: create | Int32(NLM_F_APPEND), handle: nil)
        case .insertRule(let r):
            rule(r, flags: create, handle: nil)
        case .replaceRule(let r, let handle):
            rule(r, flags: Int32(NLM_F_REPLACE), handle: handle)
        case .deleteRule(let id, let handle):
            message(msg(NFT_MSG_DELRULE), family: id.table.family.nfproto, flags: 0) { nlh in
                Self.withRule(Rule(id, []), includeChain: true, handle: handle) { nftnl_rule_nlmsg_build_payload(nlh, $0) }
            }
        case .addSet(let s):
            addSet(s, setID: nil)
        case .deleteSet(let t, let name):
            message(msg(NFT_MSG_DELSET), family: t.family.nfproto, flags: 0) { nlh in
                Self.withSetHeader(t, name, setID: nil) { nftnl_set_nlmsg_build_payload(nlh, $0) }
            }
        case .flushSet(let t, let name):
            message(msg(NFT_MSG_DELSETELEM), family: t.family.nfproto, flags: 0) { nlh in
                Self.withSetHeader(t, name, setID: nil) { nftnl_set_elems_nlmsg_build_payload(nlh, $0) }
            }
        case .addElements(let t, let name, let elements):
            self.elements(elements, table: t, set: name, setID: nil, type: NFT_MSG_NEWSETELEM, flags: create)
        case .deleteElements(let t, let name, let elements):
            self.elements(elements, table: t, set: name, setID: nil, type: NFT_MSG_DELSETELEM, flags: 0)
        }
    }

    private func msg(_ m: nf_tables_msg_types) -> UInt16 {
        UInt16(NFNL_SUBSYS_NFTABLES << 8) | UInt16(m.rawValue)
    }

    private mutating func table(_ t: Table, _ type: nf_tables_msg_types, flags: Int32) {
        message(msg(type), family: t.family.nfproto, flags: flags) { nlh in
            guard let obj = nftnl_table_alloc() else { return }
            defer { nftnl_table_free(obj) }
            nftnl_table_set_str(obj, UInt16(NFTNL_TABLE_NAME.rawValue), t.name)
            nftnl_table_set_u32(obj, UInt16(NFTNL_TABLE_FAMILY.rawValue), UInt32(t.family.nfproto))
            if let ud = UserData.commentOnly(t.comment) {
                ud.withUnsafeBytes { _ = nftnl_table_set_data(obj, UInt16(NFTNL_TABLE_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
            }
            nftnl_table_nlmsg_build_payload(nlh, obj)
        }
    }

    private mutating func chain(_ c: Chain, _ type: nf_tables_msg_types, flags: Int32) {
        message(msg(type), family: c.table.family.nfproto, flags: flags) { nlh in
            guard let obj = nftnl_chain_alloc() else { return }
            defer { nftnl_chain_free(obj) }
            nftnl_chain_set_str(obj, UInt16(NFTNL_CHAIN_TABLE.rawValue), c.table.name)
            nftnl_chain_set_str(obj, UInt16(NFTNL_CHAIN_NAME.rawValue), c.name)
            nftnl_chain_set_u32(obj, UInt16(NFTNL_CHAIN_FAMILY.rawValue), UInt32(c.table.family.nfproto))
            if let base = c.base {
                nftnl_chain_set_u32(obj, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue), base.hook.number)
                nftnl_chain_set_s32(obj, UInt16(NFTNL_CHAIN_PRIO.rawValue), base.priority)
                nftnl_chain_set_str(obj, UInt16(NFTNL_CHAIN_TYPE.rawValue), base.type.rawValue)
                nftnl_chain_set_u32(obj, UInt16(NFTNL_CHAIN_POLICY.rawValue), UInt32(bitPattern: base.policy.code))
            }
            if let ud = UserData.commentOnly(c.comment) {
                ud.withUnsafeBytes { _ = nftnl_chain_set_data(obj, UInt16(NFTNL_CHAIN_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
            }
            nftnl_chain_nlmsg_build_payload(nlh, obj)
        }
    }

    private static func withRule(_ r: Rule, includeChain: Bool, handle: UInt64? = nil, _ body: (OpaquePointer) -> Void) {
        guard let obj = nftnl_rule_alloc() else { return }
        defer { nftnl_rule_free(obj) }
        nftnl_rule_set_str(obj, UInt16(NFTNL_RULE_TABLE.rawValue), r.chain.table.name)
        if includeChain { nftnl_rule_set_str(obj, UInt16(NFTNL_RULE_CHAIN.rawValue), r.chain.name) }
        nftnl_rule_set_u32(obj, UInt16(NFTNL_RULE_FAMILY.rawValue), UInt32(r.chain.table.family.nfproto))
        if let handle { nftnl_rule_set_u64(obj, UInt16(NFTNL_RULE_HANDLE.rawValue), handle) }
        body(obj)
    }

    private mutating func rule(_ r: Rule, flags: Int32, handle: UInt64?) {
        // Anonymous sets first: each is created and filled in this batch, then bound by the rule
        // through its batch-local set ID.
        var anonymousIDs: [Int: (name: String, id: UInt32)] = [:]
        for (i, e) in r.expressions.enumerated() {
            guard case .lookup(_, .anonymous(let s), _, _) = e else { continue }
            let id = nextSetID
            nextSetID += 1
            let name = s.isMap ? "__map%d" : "__set%d"
            addSet(s, setID: (name, id))
            anonymousIDs[i] = (name, id)
        }
        message(msg(NFT_MSG_NEWRULE), family: r.chain.table.family.nfproto, flags: flags) { nlh in
            Self.withRule(r, includeChain: true, handle: handle) { obj in
                if let ud = UserData.commentOnly(r.comment) {
                    ud.withUnsafeBytes { _ = nftnl_rule_set_data(obj, UInt16(NFTNL_RULE_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
                }
                for (i, e) in r.expressions.enumerated() {
                    if let expr = ExpressionEncoder.make(e, anonymousSet: anonymousIDs[i]) {
                        nftnl_rule_add_expr(obj, expr)
                    }
                }
                nftnl_rule_nlmsg_build_payload(nlh, obj)
            }
        }
    }

    private static func withSetHeader(_ t: TableID, _ name: String, setID: UInt32?, _ body: (OpaquePointer) -> Void) {
        guard let obj = nftnl_set_alloc() else { return }
        defer { nftnl_set_free(obj) }
        nftnl_set_set_str(obj, UInt16(NFTNL_SET_TABLE.rawValue), t.name)
        nftnl_set_set_str(obj, UInt16(NFTNL_SET_NAME.rawValue), name)
        nftnl_set_set_u32(obj, UInt16(NFTNL_SET_FAMILY.rawValue), UInt32(t.family.nfproto))
        if let setID { nftnl_set_set_u32(obj, UInt16(NFTNL_SET_ID.rawValue), setID) }
        body(obj)
    }

    private mutating func addSet(_ s: NFSet, setID: (name: String, id: UInt32)?) {
        let name = setID?.name ?? s.name
        // nft gives every new set a batch-local ID, named or not; do the same.
        let id = setID?.id ?? nextSetID
        if setID == nil { nextSetID += 1 }
        message(msg(NFT_MSG_NEWSET), family: s.table.family.nfproto, flags: Int32(NLM_F_CREATE), origin: s.isAnonymous ? .anonymousSet : .command) { nlh in
            Self.withSetHeader(s.table, name, setID: id) { obj in
                nftnl_set_set_u32(obj, UInt16(NFTNL_SET_FLAGS.rawValue), s.flags.rawValue)
                nftnl_set_set_u32(obj, UInt16(NFTNL_SET_KEY_TYPE.rawValue), s.key.id)
                nftnl_set_set_u32(obj, UInt16(NFTNL_SET_KEY_LEN.rawValue), UInt32(s.key.length))
                switch s.data {
                case .verdict:
                    nftnl_set_set_u32(obj, UInt16(NFTNL_SET_DATA_TYPE.rawValue), SetData.verdictTypeID)
                    nftnl_set_set_u32(obj, UInt16(NFTNL_SET_DATA_LEN.rawValue), 0)
                case .value(let t):
                    nftnl_set_set_u32(obj, UInt16(NFTNL_SET_DATA_TYPE.rawValue), t.id)
                    nftnl_set_set_u32(obj, UInt16(NFTNL_SET_DATA_LEN.rawValue), UInt32(t.length))
                case nil:
                    break
                }
                if let timeout = s.timeoutMillis { nftnl_set_set_u64(obj, UInt16(NFTNL_SET_TIMEOUT.rawValue), timeout) }
                if let size = s.size { nftnl_set_set_u32(obj, UInt16(NFTNL_SET_DESC_SIZE.rawValue), size) }
                if s.isAnonymous {
                    // nft sizes anonymous sets to their elements; do the same so both read back alike.
                    nftnl_set_set_u32(obj, UInt16(NFTNL_SET_DESC_SIZE.rawValue), UInt32(s.elements.count))
                }
                if s.key.isConcatenation && s.flags.contains(.interval) {
                    // Field lengths let the kernel pick the pipapo backend for concatenated ranges.
                    var lengths = s.key.fields.map { UInt8($0.length) }
                    lengths.withUnsafeMutableBytes {
                        _ = nftnl_set_set_data(obj, UInt16(NFTNL_SET_DESC_CONCAT.rawValue), $0.baseAddress, UInt32($0.count))
                    }
                }
                let ud = UserData.set(s)
                ud.withUnsafeBytes { _ = nftnl_set_set_data(obj, UInt16(NFTNL_SET_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
                nftnl_set_nlmsg_build_payload(nlh, obj)
            }
        }
        if !s.elements.isEmpty {
            elements(s.elements, table: s.table, set: name, setID: setID?.id, type: NFT_MSG_NEWSETELEM,
                     flags: Int32(NLM_F_CREATE), anonymous: s.isAnonymous)
        }
    }

    private mutating func elements(
        _ elements: [SetElement], table t: TableID, set name: String, setID: UInt32?, type: nf_tables_msg_types,
        flags: Int32, anonymous: Bool = false
    ) {
        var start = 0
        while start < elements.count {
            var end = start
            var bytes = 0
            while end < elements.count && (end == start || bytes < Self.elementBytesPerMessage) {
                bytes += Self.estimatedSize(elements[end])
                end += 1
            }
            let chunk = elements[start..<end]
            message(msg(type), family: t.family.nfproto, flags: flags, origin: .elements(start: start, count: chunk.count, ofAnonymousSet: anonymous)) { nlh in
                // The list's header as libnftnl's nftnl_set_elems_nlmsg_build_payload writes it.
                mnl_attr_put_strz(nlh, UInt16(NFTA_SET_ELEM_LIST_SET.rawValue), name)
                if let setID { mnl_attr_put_u32(nlh, UInt16(NFTA_SET_ELEM_LIST_SET_ID.rawValue), setID.bigEndian) }
                mnl_attr_put_strz(nlh, UInt16(NFTA_SET_ELEM_LIST_TABLE.rawValue), t.name)
                let list = mnl_attr_nest_start(nlh, UInt16(NFTA_SET_ELEM_LIST_ELEMENTS.rawValue))
                var comments = ElementCodec.CommentCache()
                for i in chunk.indices {
                    ElementCodec.put(elements[i], into: nlh, index: UInt16(truncatingIfNeeded: i - start + 1), comments: &comments)
                }
                mnl_attr_nest_end(nlh, list)
            }
            start = end
        }
    }

    /// What a message was about, recorded per message at almost no cost.
    enum Origin {
        case batch
        case command
        case anonymousSet
        case elements(start: Int, count: Int, ofAnonymousSet: Bool)
        case resolved(command: Int, Origin.Part)

        enum Part {
            case whole, anonymousSet
            case elements(start: Int, count: Int, ofAnonymousSet: Bool)
        }

        func at(_ command: Int) -> Origin {
            switch self {
            case .batch, .resolved: self
            case .command: .resolved(command: command, .whole)
            case .anonymousSet: .resolved(command: command, .anonymousSet)
            case .elements(let start, let count, let anon): .resolved(command: command, .elements(start: start, count: count, ofAnonymousSet: anon))
            }
        }
    }

    /// Names the object a message was about, e.g. `add rule to chain ip sluice svc-web (ns/web:http)`.
    static func describe(_ origin: Origin, in commands: [Transaction.Command]) -> String {
        guard case .resolved(let index, let part) = origin, index < commands.count else { return "the batch" }
        let command = commands[index]
        if case .anonymousSet = part {
            if case .addRule(let r) = command { return "add anonymous set for a rule in chain \(r.chain)" }
            return "add anonymous set"
        }
        if case .elements(_, let count, let anon) = part {
            switch command {
            case .addElements(let t, let name, _): return "add \(count) element(s) of set \(t) \(name)"
            case .deleteElements(let t, let name, _): return "delete \(count) element(s) of set \(t) \(name)"
            case .addSet(let s): return "add \(count) element(s) of set \(s.table) \(s.name)"
            case .addRule(let r), .insertRule(let r), .replaceRule(let r, _):
                return "add \(count) element(s) of \(anon ? "an anonymous set" : "a set") for a rule in chain \(r.chain)"
            default: return "elements"
            }
        }
        func withComment(_ r: Rule) -> String { r.comment.map { " (\($0))" } ?? "" }
        switch command {
        case .addTable(let t): return "add table \(t.id)"
        case .createTable(let t): return "create table \(t.id)"
        case .deleteTable(let id): return "delete table \(id)"
        case .flushTable(let id): return "flush table \(id)"
        case .addChain(let c): return "add chain \(c.id)"
        case .createChain(let c): return "create chain \(c.id)"
        case .deleteChain(let id): return "delete chain \(id)"
        case .flushChain(let id): return "flush chain \(id)"
        case .addRule(let r): return "add rule to chain \(r.chain)" + withComment(r)
        case .insertRule(let r): return "insert rule into chain \(r.chain)" + withComment(r)
        case .replaceRule(let r, let h): return "replace rule \(h) in chain \(r.chain)" + withComment(r)
        case .deleteRule(let id, let h): return "delete rule \(h) from chain \(id)"
        case .addSet(let s): return "add set \(s.table) \(s.name)"
        case .deleteSet(let t, let n): return "delete set \(t) \(n)"
        case .flushSet(let t, let n): return "flush set \(t) \(n)"
        case .addElements(let t, let n, _): return "add elements of set \(t) \(n)"
        case .deleteElements(let t, let n, _): return "delete elements of set \(t) \(n)"
        }
    }

    static func estimatedSize(_ e: SetElement) -> Int {
        var n = 16 + 8 + (e.key.count + 3) & ~3
        if let end = e.keyEnd { n += 8 + (end.count + 3) & ~3 }
        switch e.data {
        case .verdict(let v): n += 32 + (v.chain?.utf8.count ?? 0)
        case .value(let b): n += 12 + b.count
        case nil: break
        }
        if let c = e.comment { n += 8 + c.utf8.count }
        if e.timeoutMillis != nil { n += 12 }
        return n + 8
    }
}
