extension Duration {
    /// The duration in nanoseconds, as the report's unit for every latency.
    var inNanoseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1e9 + Double(attoseconds) / 1e9
    }
}
