package import SystemPackage

extension FilePath {
    /// The path for logs and messages: invalid UTF-8 repaired, control characters escaped.
    package var printable: String { Self.escaped(description, quoted: false) }

    /// Escapes control characters so that an untrusted name cannot forge a log line.
    package static func escaped(_ text: String, quoted: Bool) -> String {
        var out = quoted ? "\"" : ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"" where quoted: out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return quoted ? out + "\"" : out
    }
}
