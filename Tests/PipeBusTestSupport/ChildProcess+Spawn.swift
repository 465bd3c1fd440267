import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension ChildProcess {
    /// `posix_spawnp` with the file actions and attributes a test's child needs.
    enum Spawn {
        struct Started {
            var pid: pid_t
            var stdoutReadEnd: Int32
            var stderrReadEnd: Int32
        }

        static func start(
            _ arguments: [String],
            environment: [String: String]?,
            stdin: Input,
            stdout: Output,
            stderr: Output,
            newProcessGroup: Bool
        ) throws -> Started {
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            // The child's ends of pipes and files, closed here once the child has its copies.
            var childEnds: [Int32] = []
            defer { for fd in childEnds { close(fd) } }
            var readEnds: [Int32] = []
            var started = false
            defer { if !started { for fd in readEnds { close(fd) } } }

            switch stdin {
            case .null:
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            case .text(let text):
                let fd = try unlinkedFile(containing: text)
                childEnds.append(fd)
                posix_spawn_file_actions_adddup2(&actions, fd, 0)
            case .descriptor(let fd):
                posix_spawn_file_actions_adddup2(&actions, fd, 0)
            }

            func direct(_ output: Output, to target: Int32) throws -> Int32 {
                switch output {
                case .capture:
                    var fds: [Int32] = [-1, -1]
                    guard pipe(&fds) == 0 else {
                        throw TestSupportError("pipe failed: \(String(cString: strerror(errno)))")
                    }
                    readEnds.append(fds[0])
                    childEnds.append(fds[1])
                    // (pipe2 is not imported.) Another thread's spawn between pipe and fcntl
                    // cannot keep these: every child of this type closes all but its stdio.
                    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
                    _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
                    _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
                    posix_spawn_file_actions_adddup2(&actions, fds[1], target)
                    return fds[0]
                case .null:
                    posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
                case .file(let path, let append):
                    let flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
                    posix_spawn_file_actions_addopen(&actions, target, path, flags, 0o644)
                case .descriptor(let fd):
                    posix_spawn_file_actions_adddup2(&actions, fd, target)
                case .stdout:
                    posix_spawn_file_actions_adddup2(&actions, 1, target)
                }
                return -1
            }
            let stdoutReadEnd = try direct(stdout, to: 1)
            let stderrReadEnd = try direct(stderr, to: 2)
            closeEverythingElse(&actions)

            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var none = sigset_t()
            sigemptyset(&none)
            posix_spawnattr_setsigmask(&attributes, &none)
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for number in 1..<32 where number != SIGKILL && number != SIGSTOP { sigaddset(&defaults, Int32(number)) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
            if newProcessGroup {
                flags |= POSIX_SPAWN_SETPGROUP
                posix_spawnattr_setpgroup(&attributes, 0)
            }
            posix_spawnattr_setflags(&attributes, Int16(flags))

            let argv = arguments.map { strdup($0) } + [nil]
            let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
            defer {
                for pointer in argv { free(pointer) }
                for pointer in envp ?? [] { free(pointer) }
            }
            var pid: pid_t = 0
            let result: Int32
            if let envp {
                result = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
            } else {
                result = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
            }
            guard result == 0 else {
                throw TestSupportError("cannot start \(arguments[0]): \(String(cString: strerror(result)))")
            }
            started = true
            return Started(pid: pid, stdoutReadEnd: stdoutReadEnd, stderrReadEnd: stderrReadEnd)
        }

        /// Closes every descriptor above stderr in the child, after the others are in place: the
        /// test process holds sockets and FIFO ends without close-on-exec (SwiftNIO's, a test's
        /// own), and a child holding one changes what the test observes (an end of file that
        /// does not come, a port still bound). `posix_spawn_file_actions_addclosefrom_np`
        /// (glibc 2.34) is looked up at run time: Swift does not import it.
        private static func closeEverythingElse(_ actions: inout posix_spawn_file_actions_t) {
            typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
            guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return }
            _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, 3)
        }

        /// An open, already unlinked file holding `text`, positioned at its start (close-on-exec).
        private static func unlinkedFile(containing text: String) throws -> Int32 {
            var template = Array("/tmp/pipebus-stdin-XXXXXX".utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else { throw TestSupportError("mkstemp failed: \(String(cString: strerror(errno)))") }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
            let bytes = Array(text.utf8)
            var written = 0
            while written < bytes.count {
                let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                guard count > 0 else {
                    close(fd)
                    throw TestSupportError("cannot write a child's stdin: \(String(cString: strerror(errno)))")
                }
                written += count
            }
            lseek(fd, 0, SEEK_SET)
            return fd
        }
    }
}
