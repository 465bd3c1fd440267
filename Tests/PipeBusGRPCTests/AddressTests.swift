#if GRPC
import PipeBusCore
import PipeBusGRPC
import Testing

@Suite("gRPC addresses and targets")
struct AddressTests {
    @Test("listen addresses parse; plaintext is refused where other hosts can reach it")
    func listenAddresses() throws {
        #expect(try GRPCListenAddress(parsing: "127.0.0.1:50051") == .tcp(host: "127.0.0.1", port: 50051))
        #expect(try GRPCListenAddress(parsing: "[::1]:0") == .tcp(host: "::1", port: 0))
        #expect(try GRPCListenAddress(parsing: "unix:/run/p.sock") == .unix(path: "/run/p.sock"))
        for bad in ["50051", "host:", "host:70000", ":1", "unix:relative", "::1:5", "[::1]5"] {
            #expect(throws: RPCError.self, "\(bad)") { try GRPCListenAddress(parsing: bad) }
        }
        #expect(try GRPCListenAddress(parsing: "127.0.0.1:1").isLocalOnly)
        #expect(try GRPCListenAddress(parsing: "[::1]:1").isLocalOnly)
        #expect(try GRPCListenAddress(parsing: "unix:/x").isLocalOnly)
        #expect(!(try GRPCListenAddress(parsing: "0.0.0.0:1").isLocalOnly))
        #expect(!(try GRPCListenAddress(parsing: "10.1.2.3:1").isLocalOnly))

        var open = GRPCBridgeServer.Configuration(address: try GRPCListenAddress(parsing: "0.0.0.0:50051"))
        let refused = #expect(throws: RPCError.self) { try open.validate() }
        #expect(refused?.message.contains("--grpc-insecure") == true)
        open.allowInsecure = true
        try open.validate()
        open.allowInsecure = false
        open.tls = GRPCTLSFiles(certificateChain: "/c.pem", privateKey: "/k.pem")
        try open.validate()
        open.tls = GRPCTLSFiles(certificateChain: "/c.pem")
        #expect(throws: RPCError.self) { try open.validate() }
        try GRPCBridgeServer.Configuration(address: try GRPCListenAddress(parsing: "127.0.0.1:0")).validate()
    }

    @Test("targets parse")
    func targets() throws {
        let plain = try GRPCTarget(parsing: "grpc://10.0.0.2:50051")
        #expect(plain.address == .host("10.0.0.2", port: 50051) && !plain.usesTLS)
        #expect(plain.description == "grpc://10.0.0.2:50051")
        let tls = try GRPCTarget(parsing: "grpcs://b.example:443")
        #expect(tls.address == .host("b.example", port: 443) && tls.usesTLS)
        #expect(try GRPCTarget(parsing: "grpc://[::1]:9").description == "grpc://[::1]:9")
        #expect(try GRPCTarget(parsing: "unix:/run/p.sock").address == .unix(path: "/run/p.sock"))
        for bad in ["10.0.0.2:50051", "http://h:1", "grpc://h", "grpc://h:0", "grpc://:1", "grpcs://h:99999"] {
            #expect(throws: RPCError.self, "\(bad)") { try GRPCTarget(parsing: bad) }
        }
    }
}
#endif
