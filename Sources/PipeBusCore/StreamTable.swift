/// The client's open streams by id. One call at a time is the common case, and it is kept in
/// a slot of its own, so that the per-call lookups (about seven) hash nothing; further streams
/// go to a dictionary.
struct StreamTable<Value: AnyObject>: Sequence {
    private var firstID: UInt32 = 0
    private var first: Value?
    private var others: [UInt32: Value] = [:]

    init() {}

    subscript(id: UInt32) -> Value? {
        if let first, firstID == id { return first }
        return others.isEmpty ? nil : others[id]
    }

    /// Adds a stream; `id` must not be open already.
    mutating func insert(_ value: Value, for id: UInt32) {
        if first == nil {
            first = value
            firstID = id
        } else {
            others[id] = value
        }
    }

    mutating func removeValue(forKey id: UInt32) -> Value? {
        if let value = first, firstID == id {
            first = nil
            return value
        }
        return others.isEmpty ? nil : others.removeValue(forKey: id)
    }

    var count: Int { (first == nil ? 0 : 1) + others.count }
    var isEmpty: Bool { first == nil && others.isEmpty }

    struct Iterator: IteratorProtocol {
        var first: (key: UInt32, value: Value)?
        var rest: Dictionary<UInt32, Value>.Iterator

        mutating func next() -> (key: UInt32, value: Value)? {
            if let pending = first {
                first = nil
                return pending
            }
            return rest.next()
        }
    }

    func makeIterator() -> Iterator {
        Iterator(first: first.map { (key: firstID, value: $0) }, rest: others.makeIterator())
    }
}
