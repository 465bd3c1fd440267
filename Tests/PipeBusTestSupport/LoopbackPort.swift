import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// TCP ports on 127.0.0.1 for tests, without the race of "find a free port, close it, hope".
///
/// A server under test binds port 0 and says which port it got (the sidecar's "serving /metrics"
/// log line, `MetricsHTTPServer.start`'s result). A program that cannot say binds port 0 too,
/// and `listeningPorts(of:)` reads its port from the kernel. A port that must refuse
/// connections is a `ReservedPort`: bound by the test and held, so nothing can listen on it.
public enum LoopbackPort {
    /// The TCP ports on which process `pid` listens (IPv4 and IPv6), from /proc: the sockets in
    /// LISTEN state whose inodes are among its descriptors.
    public static func listeningPorts(of pid: Int32) -> [Int] {
        let descriptors = "/proc/\(pid)/fd"
        var inodes = Set<String>()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: descriptors)) ?? [] {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(descriptors)/\(name)"),
                target.hasPrefix("socket:[")
            else { continue }
            inodes.insert(String(target.dropFirst(8).dropLast()))
        }
        var ports: [Int] = []
        for table in ["tcp", "tcp6"] {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/\(table)", encoding: .utf8) else { continue }
            // "sl local_address rem_address st ... inode": local_address is HEXIP:HEXPORT, st 0A is LISTEN.
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[3] == "0A", inodes.contains(String(fields[9])),
                    let colon = fields[1].lastIndex(of: ":"), let port = Int(fields[1][fields[1].index(after: colon)...], radix: 16)
                else { continue }
                ports.append(port)
            }
        }
        return ports.sorted()
    }

    static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}

/// A TCP port on 127.0.0.1 that this test holds bound, without listening: a connection to it is
/// refused (a collector that is down), and no other program can take it while it is held.
public final class ReservedPort: Sendable {
    public let port: Int
    private let fd: Int32

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestSupportError("socket: \(String(cString: strerror(errno)))") }
        var address = LoopbackPort.address(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            let error = String(cString: strerror(errno))
            close(fd)
            throw TestSupportError("cannot bind a port on 127.0.0.1: \(error)")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}
