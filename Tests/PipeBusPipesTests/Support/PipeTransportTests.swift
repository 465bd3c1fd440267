import Testing

/// The parent of every suite in this target, run one test at a time: several tests bound a
/// latency (a cancellation, a deadline, a connect), and the heavy ones (4 MiB messages through a
/// debug build, nine processes) would starve the rest on this machine's two vCPUs.
@Suite(.serialized, .timeLimit(.minutes(1)))
enum PipeTransportTests {}
