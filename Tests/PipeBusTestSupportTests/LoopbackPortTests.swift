import PipeBusTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Loopback ports")
struct LoopbackPortTests {
    @Test("a reserved port refuses connections while it is held, and nothing else can bind it")
    func reservedPortRefuses() throws {
        let reserved = try ReservedPort()
        defer { withExtendedLifetime(reserved) {} }
        let error = #expect(throws: LoopbackHTTPClient.Failure.self) {
            try LoopbackHTTPClient(port: reserved.port).request("GET", "/metrics")
        }
        #expect(error?.description.contains("Connection refused") == true, "\(String(describing: error))")
        #expect(Self.bindError(reserved.port) == EADDRINUSE)
    }

    @Test("listeningPorts finds the port a process listens on, and only listening ones")
    func listeningPortsOfThisProcess() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        #expect(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        #expect(!LoopbackPort.listeningPorts(of: getpid()).contains(port), "bound is not listening")
        try #require(listen(fd, 1) == 0)
        #expect(LoopbackPort.listeningPorts(of: getpid()).contains(port))
    }

    /// errno of binding 127.0.0.1:`port`, 0 when it binds.
    static func bindError(_ port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0 ? 0 : errno
    }
}
