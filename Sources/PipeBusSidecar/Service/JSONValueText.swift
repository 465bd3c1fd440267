import Foundation

/// JSON values (as `JSONSerialization` gives them) named in error messages: what a person
/// wrote, not a Swift type (`got the string "7"`, not `got 7`; `an array`, not `Array<Any>`).
public enum JSONValueText {
    /// `an object`, `an array`, `a string`, `a number`, `true or false`, `null`.
    public static func kind(of value: Any) -> String {
        switch value {
        case is [String: Any]: "an object"
        case is [Any]: "an array"
        case is String: "a string"
        case is NSNull: "null"
        case let number as NSNumber: isBoolean(number) ? "true or false" : "a number"
        default: "\(type(of: value))"
        }
    }

    /// The value itself when short (`the string "7"`, `2.5`, `true`, `null`), else its kind.
    public static func describe(_ value: Any) -> String {
        switch value {
        case let text as String:
            let quoted = text.count <= 40 ? text : String(text.prefix(40)) + "…"
            return "the string \"\(quoted)\""
        case is NSNull:
            return "null"
        case let number as NSNumber:
            return isBoolean(number) ? (number.boolValue ? "true" : "false") : "\(number)"
        default:
            return kind(of: value)
        }
    }

    /// Whether a parsed JSON number is really `true` or `false` (Foundation gives both as NSNumber).
    static func isBoolean(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }
}
