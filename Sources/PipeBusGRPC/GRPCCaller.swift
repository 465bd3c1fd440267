#if GRPC
import GRPCCore
import GRPCNIOTransportCore
package import GRPCNIOTransportHTTP2Posix
public import PipeBusCore

/// Makes pipebus calls to a remote sidecar over gRPC (HTTP/2): the `RPCCaller` behind
/// `SidecarClient`s of `grpc://` and `grpcs://` targets, so the generated clients and the CLI
/// work the same against a local pipe and a sidecar on another host.
///
/// It keeps one HTTP/2 connection, made when first needed and made again after it breaks
/// (backing off up to `maxReconnectDelay`): a host that comes back is reached again without
/// anyone's help. Keepalive pings notice a host that stopped answering; its calls fail with
/// UNAVAILABLE or DEADLINE_EXCEEDED within their deadline. `close()` ends the connection and
/// fails what is in flight.
public final class GRPCCaller: ClosableRPCCaller {
    public struct Configuration: Sendable {
        /// For `grpcs://`: the CA the server's certificate must chain to (the system's roots
        /// when nil), and this client's certificate and key for mutual TLS.
        public var tls = GRPCTLSFiles()
        /// How often a connection is pinged, and how long an answer may take before it is
        /// declared dead (its calls fail, the next call reconnects).
        public var keepaliveInterval: Duration = .seconds(10)
        public var keepaliveTimeout: Duration = .seconds(5)
        /// The longest wait between attempts to reconnect to a host that is gone.
        public var maxReconnectDelay: Duration = .seconds(5)
        public var maxResponseMessageBytes = FrameHeader.defaultMaxFrameSize
        /// Whether the HTTP/2 connection holds its flushes back (up to 100 µs,
        /// grpc-swift-nio-transport's default) to batch writes: fewer syscalls under many
        /// concurrent calls, up to 100 µs more per request when calls come one at a time.
        /// Off: one call at a time is what the bridge serves (probes, the CLI, a fleet's rows),
        /// and bench/PipeBusBench's grpc-bridge scenario measured off faster at p50 in both
        /// placements, for the bridge and for bare grpc-swift-2 alike.
        public var coalescesFlushes = false

        public init() {}

        /// The HTTP/2 transport's settings; the benchmark's bare grpc-swift-2 client uses the
        /// very same ones.
        package var transportConfig: HTTP2ClientTransport.Posix.Config {
            .defaults { config in
                config.connection.keepalive = .init(time: keepaliveInterval, timeout: keepaliveTimeout, allowWithoutCalls: true)
                config.backoff.initial = .milliseconds(100)
                config.backoff.max = maxReconnectDelay
                if !coalescesFlushes { config.connection.flushCoalescing = nil }
            }
        }
    }

    public let target: GRPCTarget
    private let client: GRPCClient<HTTP2ClientTransport.Posix>
    private let maxResponseMessageBytes: Int
    /// `client.runConnections()`, until `close()` shuts the client down; not detached work:
    /// `close()` ends it, and it holds nothing once it has.
    private let connections: Task<Void, Never>

    public init(target: GRPCTarget, configuration: Configuration = Configuration()) throws {
        self.target = target
        self.maxResponseMessageBytes = configuration.maxResponseMessageBytes
        let transport: HTTP2ClientTransport.Posix
        do {
            transport = try HTTP2ClientTransport.Posix(
                target: Self.resolvable(target),
                transportSecurity: try Self.security(target, configuration.tls),
                config: configuration.transportConfig
            )
        } catch {
            throw RPCError(code: .invalidArgument, message: "cannot set up a gRPC connection to \(target): \(error)")
        }
        let client = GRPCClient(transport: transport)
        self.client = client
        connections = Task { try? await client.runConnections() }
    }

    public func close() {
        client.beginGracefulShutdown()
        connections.cancel()
    }

    deinit { close() }

    private static func resolvable(_ target: GRPCTarget) -> any ResolvableTarget {
        switch target.address {
        case .host(let host, let port): .dns(host: host, port: port)
        case .unix(let path): .unixDomainSocket(path: path)
        }
    }

    private static func security(_ target: GRPCTarget, _ tls: GRPCTLSFiles) throws -> HTTP2ClientTransport.Posix.TransportSecurity {
        guard target.usesTLS else { return .plaintext }
        let trustRoots: TLSConfig.TrustRootsSource = tls.trustedCA.map { .certificates([.file(path: $0, format: .pem)]) } ?? .systemDefault
        if let chain = tls.certificateChain, let key = tls.privateKey {
            return .mTLS(certificateChain: [.file(path: chain, format: .pem)], privateKey: .file(path: key, format: .pem)) { $0.trustRoots = trustRoots }
        }
        guard tls.certificateChain == nil, tls.privateKey == nil else {
            throw RPCError(code: .invalidArgument, message: "a client certificate needs both its chain and its key")
        }
        return .tls { $0.trustRoots = trustRoots }
    }

    private func options(_ timeout: Duration?) -> CallOptions {
        var options = CallOptions.defaults
        options.timeout = timeout
        // A host that cannot be reached fails the call at once (UNAVAILABLE) rather than holding
        // it until its deadline; a connection still being made is waited for.
        options.waitForReady = false
        options.maxResponseMessageBytes = maxResponseMessageBytes
        return options
    }

    private static func descriptor(_ method: PipeBusCore.MethodDescriptor) -> GRPCCore.MethodDescriptor {
        GRPCCore.MethodDescriptor(fullyQualifiedService: method.service, method: method.method)
    }

    private func translating<Result>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as GRPCCore.RPCError {
            throw PipeBusCore.RPCError(grpc: error, peer: "\(target)")
        }
    }

    // MARK: RPCCaller

    public func unary<Request: MessageCodable, Response: MessageCodable>(
        _ method: PipeBusCore.MethodDescriptor,
        request: Request,
        metadata: PipeBusCore.Metadata,
        timeout: Duration?,
        responseType: Response.Type
    ) async throws -> Response {
        let bytes = try await translating {
            try await client.unary(
                request: ClientRequest(message: request.serializedBytes(), metadata: metadata.grpc),
                descriptor: Self.descriptor(method),
                serializer: RawMessageCoder(),
                deserializer: RawMessageCoder(),
                options: options(timeout)
            ) { response in try response.message }
        }
        return try Response(serializedBytes: bytes)
    }

    public func withServerStreaming<Request: MessageCodable, Response: MessageCodable, Result>(
        _ method: PipeBusCore.MethodDescriptor,
        request: Request,
        metadata: PipeBusCore.Metadata,
        timeout: Duration?,
        responseType: Response.Type,
        _ body: (ResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        let message = request.serializedBytes()
        return try await withResponses(body) { responses in
            try await self.client.serverStreaming(
                request: ClientRequest(message: message, metadata: metadata.grpc),
                descriptor: Self.descriptor(method),
                serializer: RawMessageCoder(),
                deserializer: RawMessageCoder(),
                options: self.options(timeout)
            ) { response in
                for try await message in response.messages { responses.yield(message) }
            }
        }
    }

    public func withClientStreaming<Request: MessageCodable, Response: MessageCodable>(
        _ method: PipeBusCore.MethodDescriptor,
        metadata: PipeBusCore.Metadata,
        timeout: Duration?,
        requestType: Request.Type,
        responseType: Response.Type,
        _ body: (RequestSender<Request>) async throws -> Void
    ) async throws -> Response {
        let (requests, sender) = AsyncStream<[UInt8]>.makeStream()
        async let response: [UInt8] = translating {
            try await client.clientStreaming(
                request: Self.streamingRequest(requests, metadata: metadata),
                descriptor: Self.descriptor(method),
                serializer: RawMessageCoder(),
                deserializer: RawMessageCoder(),
                options: options(timeout)
            ) { response in try response.message }
        }
        do {
            try await body(RequestSender(messages: sender))
        } catch {
            sender.finish()
            throw error
        }
        sender.finish()
        return try Response(serializedBytes: try await response)
    }

    public func withBidirectional<Request: MessageCodable, Response: MessageCodable, Result>(
        _ method: PipeBusCore.MethodDescriptor,
        metadata: PipeBusCore.Metadata,
        timeout: Duration?,
        requestType: Request.Type,
        responseType: Response.Type,
        _ body: (RequestSender<Request>, ResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        let (requests, sender) = AsyncStream<[UInt8]>.makeStream()
        defer { sender.finish() }
        return try await withResponses({ try await body(RequestSender(messages: sender), $0) }) { responses in
            try await self.client.bidirectionalStreaming(
                request: Self.streamingRequest(requests, metadata: metadata),
                descriptor: Self.descriptor(method),
                serializer: RawMessageCoder(),
                deserializer: RawMessageCoder(),
                options: self.options(timeout)
            ) { response in
                for try await message in response.messages { responses.yield(message) }
            }
        }
    }

    private static func streamingRequest(_ requests: AsyncStream<[UInt8]>, metadata: PipeBusCore.Metadata) -> StreamingClientRequest<[UInt8]> {
        StreamingClientRequest(metadata: metadata.grpc) { writer in
            for await message in requests { try await writer.write(message) }
        }
    }

    /// Runs `call` (which yields each response message) as a child task, and `body` on the
    /// responses as they come; the responses end as the call does, with its error if it failed.
    /// A body that returns early cancels the call.
    private func withResponses<Response: MessageCodable, Result>(
        _ body: (ResponseStream<Response>) async throws -> Result,
        call: @escaping @Sendable (AsyncThrowingStream<[UInt8], any Error>.Continuation) async throws -> Void
    ) async throws -> Result {
        let (messages, responses) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        let target = self.target
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await call(responses)
                    responses.finish()
                } catch let error as GRPCCore.RPCError {
                    responses.finish(throwing: PipeBusCore.RPCError(grpc: error, peer: "\(target)"))
                } catch {
                    responses.finish(throwing: error)
                }
            }
            let result = try await body(ResponseStream(messages: messages))
            group.cancelAll()
            return result
        }
    }
}
#endif
