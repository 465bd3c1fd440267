// Replaced by the transport test suite's peer process.
