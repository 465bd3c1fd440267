#if GRPC
/// The PEM files of a TLS side: its certificate chain and key, and the CA its peer's certificate
/// must chain to (on the server: set means mutual TLS, a client without a certificate from that
/// CA is refused; on the client: the server's CA, the system's roots when nil).
public struct GRPCTLSFiles: Hashable, Sendable {
    public var certificateChain: String?
    public var privateKey: String?
    public var trustedCA: String?

    public init(certificateChain: String? = nil, privateKey: String? = nil, trustedCA: String? = nil) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.trustedCA = trustedCA
    }
}
#endif
