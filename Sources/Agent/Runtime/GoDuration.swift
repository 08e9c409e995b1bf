/// Durations as Kubernetes configuration writes them (Go's `time.ParseDuration`): a sequence
/// of decimal numbers with units, `300ms`, `1.5s`, `1m30s`, `2h`; `0` alone is zero.
extension Duration {
    public init?(go text: String) {
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        if rest == "0" {
            self = .zero
            return
        }
        var nanos: Double = 0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter || $0 == "µ" }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return nil
            }
            nanos += value * scale
        }
        guard nanos.isFinite, nanos < 9.2e18 else { return nil }
        self = .nanoseconds(Int64(nanos.rounded()))
    }
}
