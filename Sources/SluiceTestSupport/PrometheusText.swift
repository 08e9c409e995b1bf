/// A parser of the Prometheus text exposition format (version 0.0.4), strict enough to catch
/// what a scraper would reject: malformed lines, bad names, a TYPE after its samples or
/// twice, a family whose samples are not together, a series twice, and histograms whose
/// buckets are not cumulative, lack `+Inf`, or disagree with `_count`.
public struct PrometheusText: Sendable {
    public struct Sample: Sendable, Hashable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    public struct Family: Sendable {
        public var name: String
        /// counter, gauge, histogram, summary or untyped.
        public var type: String
        public var help: String?
        public var samples: [Sample]
    }

    public struct ParseError: Error, CustomStringConvertible {
        public var line: Int
        public var text: String
        public var message: String
        public var description: String { "line \(line): \(message): \(text)" }
    }

    public private(set) var families: [String: Family] = [:]

    /// The value of the sample named `name` with exactly these labels.
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        for family in families.values {
            if let s = family.samples.first(where: { $0.name == name && $0.labels == labels }) { return s.value }
        }
        return nil
    }

    public init(parsing text: String) throws {
        var types: [String: String] = [:]
        var helps: [String: String] = [:]
        var finished: Set<String> = []
        var current: String?
        var seen: Set<Sample> = []

        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let line = String(raw)
            func fail(_ message: String) -> ParseError { ParseError(line: lineNumber, text: line, message: message) }
            if line.trimmingSpaces.isEmpty { continue }

            if line.hasPrefix("#") {
                let words = line.dropFirst().trimmingLeadingSpaces.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
                guard let keyword = words.first, keyword == "HELP" || keyword == "TYPE" else { continue }  // a comment
                guard words.count >= 2, Self.isMetricName(words[1]) else { throw fail("bad metric name") }
                let name = String(words[1])
                let rest = words.count == 3 ? String(words[2]) : ""
                if keyword == "TYPE" {
                    guard types[name] == nil else { throw fail("second TYPE for \(name)") }
                    guard families[name] == nil, !finished.contains(name) else { throw fail("TYPE after samples of \(name)") }
                    guard ["counter", "gauge", "histogram", "summary", "untyped"].contains(rest) else {
                        throw fail("unknown type \(rest)")
                    }
                    types[name] = rest
                } else {
                    guard helps[name] == nil else { throw fail("second HELP for \(name)") }
                    helps[name] = Self.unescapeHelp(rest)
                }
                continue
            }

            let sample = try Self.sample(line, fail: fail)
            let familyName = Self.family(of: sample.name, types: types)
            if current != familyName {
                if let c = current { finished.insert(c) }
                guard !finished.contains(familyName) else { throw fail("samples of \(familyName) are not together") }
                current = familyName
            }
            guard seen.insert(Sample(name: sample.name, labels: sample.labels, value: 0)).inserted else {
                throw fail("series given twice")
            }
            families[familyName, default: Family(name: familyName, type: types[familyName] ?? "untyped",
                                                 help: helps[familyName], samples: [])].samples.append(sample)
        }
        // HELP may follow TYPE for a family with no samples yet: keep what was declared.
        for (name, type) in types where families[name] == nil {
            families[name] = Family(name: name, type: type, help: helps[name], samples: [])
        }
        for family in families.values where family.type == "histogram" { try Self.checkHistogram(family) }
    }

    private static func family(of sample: String, types: [String: String]) -> String {
        if types[sample] != nil { return sample }
        for suffix in ["_bucket", "_sum", "_count"] where sample.hasSuffix(suffix) {
            let base = String(sample.dropLast(suffix.count))
            if let type = types[base], type == "histogram" || (type == "summary" && suffix != "_bucket") { return base }
        }
        return sample
    }

    private static func sample(_ line: String, fail: (String) -> ParseError) throws -> Sample {
        var i = line.startIndex
        while i < line.endIndex, line[i] != "{", line[i] != " " { i = line.index(after: i) }
        let name = String(line[..<i])
        guard isMetricName(Substring(name)) else { throw fail("bad metric name") }
        var labels: [String: String] = [:]
        if i < line.endIndex, line[i] == "{" {
            i = line.index(after: i)
            while true {
                guard i < line.endIndex else { throw fail("unterminated labels") }
                if line[i] == "}" { i = line.index(after: i); break }
                let start = i
                while i < line.endIndex, line[i] != "=" { i = line.index(after: i) }
                let label = String(line[start..<i])
                guard i < line.endIndex, isLabelName(label) else { throw fail("bad label name \(label)") }
                i = line.index(after: i)
                guard i < line.endIndex, line[i] == "\"" else { throw fail("label value not quoted") }
                i = line.index(after: i)
                var value = ""
                while true {
                    guard i < line.endIndex else { throw fail("unterminated label value") }
                    let c = line[i]
                    if c == "\"" { break }
                    if c == "\\" {
                        i = line.index(after: i)
                        guard i < line.endIndex else { throw fail("bad escape") }
                        switch line[i] {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw fail("bad escape \\\(line[i])")
                        }
                    } else {
                        value.append(c)
                    }
                    i = line.index(after: i)
                }
                i = line.index(after: i)
                guard labels.updateValue(value, forKey: label) == nil else { throw fail("label \(label) twice") }
                guard i < line.endIndex else { throw fail("unterminated labels") }
                if line[i] == "," { i = line.index(after: i) } else if line[i] != "}" { throw fail("expected , or }") }
            }
        }
        let fields = line[i...].split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 1 || fields.count == 2, line[i...].first == " " else { throw fail("expected a value (and a timestamp)") }
        guard let value = parseValue(fields[0]) else { throw fail("bad value \(fields[0])") }
        if fields.count == 2 { guard Int64(fields[1]) != nil else { throw fail("bad timestamp \(fields[1])") } }
        return Sample(name: name, labels: labels, value: value)
    }

    private static func checkHistogram(_ family: Family) throws {
        func fail(_ message: String) -> ParseError { ParseError(line: 0, text: family.name, message: message) }
        var buckets: [[String: String]: [(le: Double, count: Double)]] = [:]
        var sums: [[String: String]: Double] = [:]
        var counts: [[String: String]: Double] = [:]
        for s in family.samples {
            switch s.name {
            case family.name + "_bucket":
                var rest = s.labels
                guard let leText = rest.removeValue(forKey: "le"), let le = parseValue(Substring(leText)) else {
                    throw fail("bucket without a numeric le")
                }
                buckets[rest, default: []].append((le, s.value))
            case family.name + "_sum": sums[s.labels] = s.value
            case family.name + "_count": counts[s.labels] = s.value
            default: throw fail("unexpected sample \(s.name) in a histogram")
            }
        }
        for (labels, list) in buckets {
            let sorted = list.sorted { $0.le < $1.le }
            guard sorted.last?.le == .infinity else { throw fail("no +Inf bucket for \(labels)") }
            for (a, b) in zip(sorted, sorted.dropFirst()) where b.count < a.count {
                throw fail("buckets not cumulative for \(labels)")
            }
            guard counts[labels] == sorted.last?.count else { throw fail("_count differs from the +Inf bucket for \(labels)") }
            guard sums[labels] != nil else { throw fail("no _sum for \(labels)") }
        }
        guard Set(counts.keys) == Set(buckets.keys) else { throw fail("_count without buckets") }
    }

    private static func parseValue(_ text: Substring) -> Double? {
        switch text {
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: return Double(text)
        }
    }

    private static func isMetricName(_ s: Substring) -> Bool {
        guard let first = s.first, first.isASCII, first.isLetter || first == "_" || first == ":" else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
    }

    private static func isLabelName(_ s: String) -> Bool {
        guard let first = s.first, first.isASCII, first.isLetter || first == "_" else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    private static func unescapeHelp(_ s: String) -> String {
        var out = ""
        var escaped = false
        for c in s {
            if escaped {
                out.append(c == "n" ? "\n" : c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return out
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: Substring {
        let s = self[...]
        guard let a = s.firstIndex(where: { $0 != " " && $0 != "\t" }),
              let b = s.lastIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        return Substring(s[a...b])
    }

    fileprivate var trimmingLeadingSpaces: Substring {
        let s = self[...]
        return Substring(s[(s.firstIndex(where: { $0 != " " }) ?? s.endIndex)...])
    }
}
