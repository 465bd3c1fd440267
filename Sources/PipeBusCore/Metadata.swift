/// Call metadata: an ordered list of lower-case keys with values, like gRPC's.
///
/// Keys are ASCII and lower-cased on insertion; a key may repeat. Values are bytes on the wire;
/// text values are UTF-8. pipebus itself reads `traceparent`, `tracestate` and `correlation-id`.
public struct Metadata: Hashable, Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public struct Entry: Hashable, Sendable {
        public var key: String
        public var value: [UInt8]

        /// The value as UTF-8 text, or nil when it is not valid UTF-8.
        public var text: String? { String(validating: value, as: UTF8.self) }
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, String)...) {
        for (key, value) in elements { add(key, value) }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    public mutating func add(_ key: String, _ value: String) {
        entries.append(Entry(key: key.lowercased(), value: Array(value.utf8)))
    }

    public mutating func add(_ key: String, bytes: [UInt8]) {
        entries.append(Entry(key: key.lowercased(), value: bytes))
    }

    /// Replaces every value of `key` with one value.
    public mutating func set(_ key: String, _ value: String) {
        remove(key)
        add(key, value)
    }

    public mutating func remove(_ key: String) {
        let key = key.lowercased()
        entries.removeAll { $0.key == key }
    }

    /// The first text value of `key`.
    public subscript(_ key: String) -> String? {
        let key = key.lowercased()
        return entries.first { $0.key == key }?.text
    }

    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }
}

/// The well-known metadata keys pipebus reads and propagates.
public enum MetadataKey {
    public static let traceparent = "traceparent"
    public static let tracestate = "tracestate"
    public static let correlationID = "correlation-id"
}
