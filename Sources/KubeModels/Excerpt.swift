/// A value from the input as it may appear in a message: quoted, control and non-ASCII bytes
/// escaped, and cut to a few dozen characters with the full length said. Messages name what
/// the input holds without echoing a binary file or a megabyte-long string to a terminal.
public enum Excerpt {
    public static func quoted(_ value: String, limit: Int = 64) -> String {
        var out = "\""
        var shown = 0
        for scalar in value.unicodeScalars {
            if shown >= limit {
                return out + "…\" (\(value.utf8.count) bytes)"
            }
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case " "..."~": out.unicodeScalars.append(scalar)
            default: out += "\\u{\(String(scalar.value, radix: 16))}"
            }
            shown += 1
        }
        return out + "\""
    }

    /// A line that is safe to print: control characters escaped (a terminal never receives
    /// raw bytes from the input), printable text as it is, cut after `limit` characters.
    public static func line(_ text: String, limit: Int = 300) -> String {
        var out = ""
        var shown = 0
        for scalar in text.unicodeScalars {
            if shown >= limit { return out + "… (\(text.utf8.count) bytes)" }
            switch scalar.properties.generalCategory {
            case .control, .format, .unassigned, .surrogate, .privateUse, .lineSeparator, .paragraphSeparator:
                out += scalar == "\n" ? "\\n" : scalar == "\t" ? "\\t" : "\\u{\(String(scalar.value, radix: 16))}"
            default:
                out.unicodeScalars.append(scalar)
            }
            shown += 1
        }
        return out
    }
}
