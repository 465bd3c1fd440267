#if canImport(Glibc)
import Glibc
#endif

/// The pid of this process, for handshakes and heartbeats.
func currentPID() -> UInt32 { UInt32(getpid()) }

/// A short sleep for shutdown paths that poll (never on the hot path).
func usleepBriefly() { usleep(1_000) }
