#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CPipeBusShim

/// A named OS thread that runs one closure and can be joined. pipebus owns few threads (a
/// reader per server connection, an optional reader per client connection, a listener), so
/// each is explicit, named for debuggers, and joined on shutdown.
public final class OSThread: Sendable {
    private nonisolated(unsafe) var handle = pthread_t()

    private final class Box {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts a thread running `body`.
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(name: name, body: body))
        let result = pthread_create(&handle, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            pipebus_set_thread_name(box.name)
            box.body()
            return nil
        }, box.toOpaque())
        precondition(result == 0, "pthread_create failed: \(result)")
    }

    /// Waits for the thread to finish.
    public func join() {
        pthread_join(handle, nil)
    }

    /// Lets the thread's resources go when it ends, without anyone joining it.
    public func detach() {
        pthread_detach(handle)
    }

    /// Whether the calling thread is this one.
    public var isCurrent: Bool { pthread_equal(handle, pthread_self()) != 0 }

    /// An identifier of the calling thread, comparable with `==`.
    public static var currentID: UInt { UInt(pthread_self()) }
}
