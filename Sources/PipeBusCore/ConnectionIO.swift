/// The byte transport under one connection: an inbound and an outbound byte stream.
///
/// The RPC engine (`ServerConnection`, `ClientConnection`) is written against this seam, so the
/// same engine runs over named pipes and over the in-process transport used by unit tests.
/// One thread at a time reads; any thread may write.
public protocol ConnectionIO: AnyObject, Sendable {
    /// Waits until bytes arrive, `wake()` is called, or `timeout` passes (nil: no limit), then
    /// reads what is available into `decoder`.
    func read(into decoder: inout FrameDecoder, timeout: Duration?) throws -> ReadOutcome

    /// `read(into:timeout:)` for a caller that accepts returning up to `tolerance` after
    /// `timeout` (a soft budget), which lets a transport wait more cheaply.
    func read(into decoder: inout FrameDecoder, timeout: Duration?, tolerance: Duration) throws -> ReadOutcome

    /// Writes all of `bytes`, waiting at most `timeout` for the peer to make room. Throws
    /// UNAVAILABLE when the peer is gone or the connection closed, DEADLINE_EXCEEDED when the
    /// peer does not read within `timeout` (a slow consumer).
    func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration) throws

    /// Makes a blocked or the next `read` return `.woken`. Callable from any thread.
    func wake()

    /// Ends the outbound stream (the peer sees end of stream) and wakes the reader; later
    /// writes throw UNAVAILABLE. Idempotent.
    func close()
}

extension ConnectionIO {
    public func read(into decoder: inout FrameDecoder, timeout: Duration?, tolerance: Duration) throws -> ReadOutcome {
        try read(into: &decoder, timeout: timeout)
    }
}

/// What one `ConnectionIO.read` saw.
public enum ReadOutcome: Hashable, Sendable {
    /// This many bytes were appended to the decoder.
    case bytes(Int)
    case timedOut
    case woken
    /// The peer closed its end; nothing more will arrive.
    case endOfStream
}
