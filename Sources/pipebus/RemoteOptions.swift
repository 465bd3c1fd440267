import ArgumentParser
import PipeBusClient
import PipeBusCore
#if GRPC
import PipeBusGRPC
#endif

/// `--target` and `--fleet`: sidecars on other hosts, reached over gRPC, instead of this host's
/// pipes; and the TLS files for `grpcs://` targets.
struct RemoteOptions: ParsableArguments {
    @Option(help: "The worker's sidecar on another host: grpc://HOST:PORT, grpcs://HOST:PORT (TLS) or unix:PATH (default: this host's pipes under --root).")
    var target: String?

    @Option(help: "A fleet file: the workers' sidecars on other hosts ({\"workers\": {\"NAME\": [\"grpc://HOST:PORT\", …]}, \"tls\": {\"ca\": …, \"cert\": …, \"key\": …}}).")
    var fleet: String?

    @Option(help: "For grpcs:// targets: the CA the sidecar's certificate must chain to (default: the system's).")
    var tlsCA: String?

    @Option(help: "For grpcs:// targets: this client's certificate (PEM), for sidecars that require mutual TLS.")
    var tlsCert: String?

    @Option(help: "The key of --tls-cert (PEM).")
    var tlsKey: String?

    var isRemote: Bool { target != nil || fleet != nil }

    func validate() throws {
        if target != nil && fleet != nil { throw ValidationError("give --target or --fleet, not both") }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
    }

    /// The fleet of `--fleet`'s file, clients made with `callTimeout` and a breaker that opens
    /// after 3 failures and probes again after 5 s (a live view notices a host that returns).
    func loadFleet(callTimeout: Duration = .seconds(2)) throws -> Fleet? {
        guard let fleet else { return nil }
        let file = try FleetFile.load(fleet)
        // The command line's TLS files, else the fleet file's.
        let tls = GRPCTLSOptions(ca: tlsCA ?? file.tls?.ca, cert: tlsCert ?? file.tls?.cert, key: tlsKey ?? file.tls?.key)
        // Every target is checked now, so a typo is an error before anything is asked.
        for (worker, targets) in file.workers {
            for target in targets { try Self.check(target, worker: worker) }
        }
        return Fleet(targets: file.workers) { worker, target in
            Self.client(worker: worker, target: target, tls: tls, callTimeout: callTimeout)
        }
    }

    /// The sidecars to ask: `--fleet`'s, or `worker`'s at `--target` (a fleet of one); nil for
    /// this host's.
    func remoteFleet(worker: String?, callTimeout: Duration = .seconds(2)) throws -> Fleet? {
        if let fleet = try loadFleet(callTimeout: callTimeout) { return fleet }
        guard let target else { return nil }
        guard let worker else { throw ValidationError("--target needs --worker") }
        try Self.check(target, worker: worker)
        let tls = GRPCTLSOptions(ca: tlsCA, cert: tlsCert, key: tlsKey)
        return Fleet(targets: [worker: [target]]) { worker, target in
            Self.client(worker: worker, target: target, tls: tls, callTimeout: callTimeout)
        }
    }

    /// A client of `worker`'s sidecar at `--target`, or nil without one.
    func client(worker: String, callTimeout: Duration) throws -> SidecarClient? {
        guard let target else { return nil }
        let tls = GRPCTLSOptions(ca: tlsCA, cert: tlsCert, key: tlsKey)
        try Self.check(target, worker: worker)
        return Self.client(worker: worker, target: target, tls: tls, callTimeout: callTimeout)
    }

    private static func client(worker: String, target: String, tls: GRPCTLSOptions, callTimeout: Duration) -> SidecarClient {
        // Checked already (loadFleet, client): a caller that cannot be made now fails each call.
        let caller: any ClosableRPCCaller
        do {
            caller = try makeCaller(target, tls: tls)
        } catch {
            caller = FailingCaller(error: error)
        }
        return SidecarClient(
            worker: worker,
            target: target,
            caller: caller,
            breaker: CircuitBreaker(failureThreshold: 3, openTimeout: .seconds(5)),
            defaultTimeout: callTimeout
        )
    }

    /// Throws a usage error unless `text` is a target this build can reach.
    private static func check(_ text: String, worker: String) throws {
        #if GRPC
        do {
            _ = try GRPCTarget(parsing: text)
        } catch let error as RPCError {
            throw CLIError("worker \(worker): \(error.message)", code: "invalid_argument")
        }
        #else
        throw CLIError("this pipebus was built without gRPC (the package trait GRPC): it cannot reach \(text)", code: "unimplemented")
        #endif
    }

    private static func makeCaller(_ text: String, tls: GRPCTLSOptions) throws -> any ClosableRPCCaller {
        #if GRPC
        var configuration = GRPCCaller.Configuration()
        configuration.tls = GRPCTLSFiles(certificateChain: tls.cert, privateKey: tls.key, trustedCA: tls.ca)
        return try GRPCCaller(target: try GRPCTarget(parsing: text), configuration: configuration)
        #else
        throw RPCError(code: .unimplemented, message: "this pipebus was built without gRPC (the package trait GRPC)")
        #endif
    }
}

/// The TLS files a client presents and trusts.
struct GRPCTLSOptions: Sendable {
    var ca: String?
    var cert: String?
    var key: String?
}

/// A caller for a target that could not be set up: every call fails with its error.
private struct FailingCaller: ClosableRPCCaller {
    let error: any Error
    func close() {}
    func unary<Request: MessageCodable, Response: MessageCodable>(_ method: MethodDescriptor, request: Request, metadata: Metadata, timeout: Duration?, responseType: Response.Type) async throws -> Response {
        throw error
    }
    func withServerStreaming<Request: MessageCodable, Response: MessageCodable, Result>(_ method: MethodDescriptor, request: Request, metadata: Metadata, timeout: Duration?, responseType: Response.Type, _ body: (ResponseStream<Response>) async throws -> Result) async throws -> Result {
        throw error
    }
    func withClientStreaming<Request: MessageCodable, Response: MessageCodable>(_ method: MethodDescriptor, metadata: Metadata, timeout: Duration?, requestType: Request.Type, responseType: Response.Type, _ body: (RequestSender<Request>) async throws -> Void) async throws -> Response {
        throw error
    }
    func withBidirectional<Request: MessageCodable, Response: MessageCodable, Result>(_ method: MethodDescriptor, metadata: Metadata, timeout: Duration?, requestType: Request.Type, responseType: Response.Type, _ body: (RequestSender<Request>, ResponseStream<Response>) async throws -> Result) async throws -> Result {
        throw error
    }
}
