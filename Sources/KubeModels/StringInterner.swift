import Synchronization

/// Shares one copy of strings that repeat across thousands of objects — label keys and
/// values, annotation keys, namespaces — so that a store of 10,000 EndpointSlices does not
/// hold 10,000 copies of `kubernetes.io/service-name`. Strings of up to 15 UTF-8 bytes are
/// stored inline by Swift and pass through untouched. The table is capped.
public final class StringInterner: Sendable {
    private let table = Mutex<Set<String>>([])
    public let capacity: Int

    public init(capacity: Int = 50_000) {
        self.capacity = capacity
    }

    public func intern(_ s: String) -> String {
        if s.utf8.count <= 15 { return s }
        return table.withLock { t in
            if let i = t.firstIndex(of: s) { return t[i] }
            if t.count < capacity { t.insert(s) }
            return s
        }
    }

    func intern(_ d: [String: String]?) -> [String: String]? {
        guard let d else { return nil }
        var out: [String: String] = [:]
        out.reserveCapacity(d.count)
        for (k, v) in d { out[intern(k)] = intern(v) }
        return out
    }

    /// Where decoders find the interner (`JSONDecoder.userInfo`).
    public static let userInfoKey = CodingUserInfoKey(rawValue: "sluice.kubeapi.string-interner")
}

extension Decoder {
    var stringInterner: StringInterner? {
        StringInterner.userInfoKey.flatMap { userInfo[$0] as? StringInterner }
    }
}
