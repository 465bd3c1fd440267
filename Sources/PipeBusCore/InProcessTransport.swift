/// A connection whose two byte streams live in memory: the RPC engine without pipes, for unit
/// tests and for measuring the engine alone. Each direction holds at most `capacity` bytes,
/// like a pipe, so back-pressure and slow-consumer paths behave as they do over FIFOs.
public enum InProcessTransport {
    /// Two ends of one connection: what the client writes the server reads, and back.
    public static func makeConnection(capacity: Int = 64 * 1024) -> (client: InProcessIO, server: InProcessIO) {
        let toServer = MemoryByteStream(capacity: capacity)
        let toClient = MemoryByteStream(capacity: capacity)
        return (InProcessIO(inbound: toClient, outbound: toServer), InProcessIO(inbound: toServer, outbound: toClient))
    }
}

/// One end of an in-process connection.
public final class InProcessIO: ConnectionIO {
    let inbound: MemoryByteStream
    let outbound: MemoryByteStream

    init(inbound: MemoryByteStream, outbound: MemoryByteStream) {
        self.inbound = inbound
        self.outbound = outbound
    }

    public func read(into decoder: inout FrameDecoder, timeout: Duration?) throws -> ReadOutcome {
        try inbound.read(into: &decoder, deadline: timeout.map { ContinuousClock.now + $0 })
    }

    public func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration) throws {
        try outbound.write(bytes, deadline: ContinuousClock.now + timeout)
    }

    public func wake() { inbound.wake() }

    public func close() {
        outbound.closeWriter()
        inbound.closeReader()
    }
}

/// One direction of an in-process connection: a bounded byte queue.
final class MemoryByteStream: @unchecked Sendable {
    private let lock = ConditionLock()
    private let capacity: Int
    private var bytes: [UInt8] = []
    private var writerClosed = false
    private var readerClosed = false
    private var woken = false

    init(capacity: Int) { self.capacity = capacity }

    func read(into decoder: inout FrameDecoder, deadline: ContinuousClock.Instant?) throws -> ReadOutcome {
        try lock.withLock {
            while bytes.isEmpty && !writerClosed && !woken && !readerClosed {
                if !lock.wait(until: deadline) { return .timedOut }
            }
            if readerClosed { throw RPCError(code: .unavailable, message: "connection closed") }
            if !bytes.isEmpty {
                let count = bytes.count
                let taken = bytes
                _ = decoder.readInto(maximum: count) { buffer in
                    taken.withUnsafeBytes { buffer.copyMemory(from: $0) }
                    return count
                }
                bytes.removeAll(keepingCapacity: true)
                lock.broadcast()
                return .bytes(count)
            }
            if woken {
                woken = false
                return .woken
            }
            return .endOfStream
        }
    }

    func write(_ source: UnsafeRawBufferPointer, deadline: ContinuousClock.Instant) throws {
        var offset = 0
        try lock.withLock {
            while offset < source.count {
                if readerClosed || writerClosed {
                    throw RPCError(code: .unavailable, message: "peer closed the connection")
                }
                let room = capacity - bytes.count
                if room <= 0 {
                    if !lock.wait(until: deadline) {
                        throw RPCError(code: .deadlineExceeded, message: "peer did not read \(source.count - offset) bytes in time")
                    }
                    continue
                }
                let chunk = min(room, source.count - offset)
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: source[offset..<(offset + chunk)]))
                offset += chunk
                lock.broadcast()
            }
        }
    }

    func wake() {
        lock.withLock {
            woken = true
            lock.broadcast()
        }
    }

    func closeWriter() {
        lock.withLock {
            writerClosed = true
            lock.broadcast()
        }
    }

    func closeReader() {
        lock.withLock {
            readerClosed = true
            lock.broadcast()
        }
    }
}
