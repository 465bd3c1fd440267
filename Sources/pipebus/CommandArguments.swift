/// The command line as given, prepared for ArgumentParser.
enum CommandArguments {
    /// `--older-than -5m` becomes `--older-than=-5m`. ArgumentParser takes a token that starts
    /// with `-` for an option, so the value went missing ("Missing value for --older-than")
    /// instead of being read and refused for what it is (a negative duration). pipebus has no
    /// option or flag named `-<digit>`, so such a token after `--name` can only be its value.
    /// Nothing after `--` (the sidecar's worker command) is touched.
    static func normalized(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            if argument == "--" {
                result += arguments[index...]
                break
            }
            let next = arguments.index(after: index)
            if argument.hasPrefix("--"), argument.count > 2, !argument.contains("="), next < arguments.endIndex,
                looksNegative(arguments[next])
            {
                result.append("\(argument)=\(arguments[next])")
                index = arguments.index(after: next)
                continue
            }
            result.append(argument)
            index = next
        }
        return result
    }

    /// Whether `--json` was given to the command (before any `--`), so that even an error
    /// found while parsing is reported as JSON.
    static func wantsJSON(_ arguments: [String]) -> Bool {
        arguments.prefix { $0 != "--" }.contains("--json")
    }

    private static func looksNegative(_ token: String) -> Bool {
        guard token.hasPrefix("-"), let second = token.dropFirst().first else { return false }
        return second.isNumber || second == "."
    }
}
