/// Prints set elements the way nft 1.0.6 lists them: interval sets folded back from the
/// kernel's start/end elements into prefixes and ranges, elements sorted as nft sorts them,
/// and named sets' element lists wrapped like nft wraps them.
struct ElementText {
    struct Field {
        var format: ValueFormat
        var length: Int
    }
    var key: [Field]
    var data: [Field]?
    var isVerdictMap: Bool
    var isInterval: Bool

    init(_ set: NFSet) {
        key = set.key.fields.map { Field(format: ValueFormat($0), length: $0.length) }
        switch set.data {
        case .value(let t): data = t.fields.map { Field(format: ValueFormat($0), length: $0.length) }
        case .verdict, nil: data = nil
        }
        isVerdictMap = set.data == .verdict
        isInterval = set.flags.contains(.interval)
    }

    /// `{ a, b }`; named sets break lines every few elements (by key type), as nft does.
    func braced(_ elements: [SetElement], named: Bool) -> String {
        let items = texts(elements)
        var out = "{ "
        var count = 0
        for (i, item) in items.enumerated() {
            if i > 0 { out += delimiter(named: named, count: &count) }
            out += item
            count += 1
        }
        return out + " }"
    }

    /// nft's `calculate_delim`: anonymous sets stay on one line; named sets put a fixed number of
    /// elements of simple types on each line, and concatenations or long types one per line.
    private func delimiter(named: Bool, count: inout Int) -> String {
        let newline = ",\n\t\t\t     "
        if !named { return ", " }
        guard key.count == 1, let perLine = key[0].format.elementsPerLine else { return newline }
        if count < perLine { return ", " }
        count = 0
        return newline
    }

    /// Each element's text, in nft's listing order.
    func texts(_ elements: [SetElement]) -> [String] {
        if isInterval && key.count == 1 {
            return foldedRanges(elements).map { elementText(keyText: $0.text, $0.element) }
        }
        var list = elements.filter { !$0.intervalEnd }
        if !isInterval { list = list.sorted { sortKey($0.key).lexicographicallyPrecedes(sortKey($1.key)) } }
        return list.map { e in
            if let end = e.keyEnd {
                let starts = fields(e.key, of: key)
                let ends = fields(end, of: key)
                let parts = zip(key, zip(starts, ends)).map { f, r in rangeText(r.0, r.1, f.format) }
                return elementText(keyText: parts.joined(separator: " . "), e)
            }
            return elementText(keyText: valueText(e.key, key), e)
        }
    }

    /// nft sorts by the number a key stands for: big-endian fields compare as bytes, host-order
    /// ones reversed; a concatenation is its fields' bytes unpadded, read as one little-endian
    /// number (nft's `concat_expr_msort_value`), so it sorts by its last byte first.
    private func sortKey(_ bytes: [UInt8]) -> [UInt8] {
        if key.count == 1 { return key[0].format.isHostOrder ? bytes.reversed() : bytes }
        return fields(bytes, of: key).flatMap { $0 }.reversed()
    }

    /// Start elements with the key where their range ends (inclusive): the next element's key
    /// minus one, or the top of the key space when none follows.
    private func foldedRanges(_ elements: [SetElement]) -> [(text: String, element: SetElement)] {
        let sorted = elements.sorted(by: SetElement.keyOrder)
        var out: [(String, SetElement)] = []
        for (i, e) in sorted.enumerated() where !e.intervalEnd {
            let next = sorted[(i + 1)...].first { $0.key != e.key }
            let last = next.map { decremented($0.key) } ?? [UInt8](repeating: 0xff, count: e.key.count)
            out.append((rangeText(e.key, last, key[0].format), e))
        }
        return out
    }

    private func elementText(keyText: String, _ e: SetElement) -> String {
        var s = keyText
        if let t = e.timeoutMillis { s += " timeout " + durationText(millis: t) }
        if let c = e.comment { s += " comment " + quoted(c) }
        switch e.data {
        case .verdict(let v): s += " : " + v.description
        case .value(let bytes): s += " : " + valueText(bytes, data ?? [Field(format: .hex, length: bytes.count)])
        case nil: break
        }
        return s
    }

    func valueText(_ bytes: [UInt8], _ fieldList: [Field]) -> String {
        zip(fieldList, fields(bytes, of: fieldList)).map { $0.format.text($1) }.joined(separator: " . ")
    }
}

/// Splits a key or value into its fields: one field as is, a concatenation's fields each
/// padded to 4 bytes. Bytes that do not fit the types end up in a last raw field.
func fields(_ bytes: [UInt8], of list: [ElementText.Field]) -> [[UInt8]] {
    if list.count <= 1 { return [bytes] }
    var out: [[UInt8]] = []
    var at = 0
    for f in list {
        let end = min(bytes.count, at + f.length)
        out.append(Array(bytes[min(at, end)..<end]))
        at += (f.length + 3) / 4 * 4
    }
    return out
}

/// One value, `a/len` when an address range is a whole prefix, or `a-b`.
func rangeText(_ first: [UInt8], _ last: [UInt8], _ format: ValueFormat) -> String {
    if first == last { return format.text(first) }
    if format.isAddress, let len = prefixLength(first, last) { return format.text(first) + "/" + String(len) }
    return format.text(first) + "-" + format.text(last)
}

/// The prefix length when first…last (inclusive) is exactly one prefix: they agree on the
/// leading bits, then first has only zeros and last only ones.
func prefixLength(_ first: [UInt8], _ last: [UInt8]) -> Int? {
    guard first.count == last.count else { return nil }
    let bits = first.count * 8
    func bit(_ b: [UInt8], _ i: Int) -> Bool { b[i / 8] & (0x80 >> UInt8(i % 8)) != 0 }
    var common = 0
    while common < bits && bit(first, common) == bit(last, common) { common += 1 }
    for i in common..<bits where bit(first, i) || !bit(last, i) { return nil }
    return common
}

/// The big-endian number one less (wrapping at zero).
func decremented(_ bytes: [UInt8]) -> [UInt8] {
    var b = bytes
    var i = b.count - 1
    while i >= 0 {
        if b[i] == 0 {
            b[i] = 0xff
            i -= 1
        } else {
            b[i] -= 1
            break
        }
    }
    return b
}
