import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Writes whole log lines to a file descriptor, one `write(2)` per line under a lock, so lines
/// from concurrent loggers never interleave (and, up to PIPE_BUF bytes, not even with other
/// processes writing to the same pipe). Shared by every handler a factory makes.
final class LogLineWriter: Sendable {
    let fileDescriptor: Int32
    /// Keeps the owner of the descriptor (a `FileHandle`) alive as long as lines may be written.
    private let owner: (any Sendable)?
    private let lock = Mutex(())

    init(fileDescriptor: Int32, owner: (any Sendable)? = nil) {
        self.fileDescriptor = fileDescriptor
        self.owner = owner
    }

    /// Writes the line; a short write (a full pipe) continues where it stopped, EINTR is retried,
    /// and any other error drops the rest of the line: logging must never take the sidecar down.
    func emit(_ line: [UInt8]) {
        lock.withLock { _ in
            line.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(fileDescriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        }
    }
}
